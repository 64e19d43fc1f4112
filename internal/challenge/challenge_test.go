package challenge

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	p, err := Parse(`Bearer resource_metadata="https://a/.well-known/oauth-protected-resource/mcp", scope="notes:read notes:write", error="insufficient_scope", error_description="needs \"x\""`)
	if err != nil || p["scope"] != "notes:read notes:write" || p["error"] != "insufficient_scope" || p["error_description"] != `needs "x"` {
		t.Fatalf("%v %v", p, err)
	}
	for _, bad := range []string{`Basic realm="x"`, `Bearer x=unquoted`, `Bearer error="a", error="b"`, `Bearer scope="unterminated`, `Bearer a="1" b="2"`} {
		if _, err := Parse(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v, want ErrSyntax", bad, err)
		}
	}
}

func FuzzParseChallenge(f *testing.F) {
	for _, s := range []string{`Bearer resource_metadata="https://a", scope="x"`, `Bearer error="a", error="b"`, `Bearer x=unquoted`, `Basic realm="x"`, `Bearer a="\"q\""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		_, _ = Parse(h)
	})
}
