package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/challenge"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "BEARER  x==", "Basic dXNlcjpwdw==", "Bearer ", "Bearer a b", `Bearer "x"`, "", "Bearer\tx", "Bearer a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, err := auth.ParseAuthorization(v)
		if err != nil {
			var e *auth.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *auth.Error", err)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \"\\\r\n\t,") {
			t.Fatalf("ParseAuthorization(%q) returned unsafe token %q", v, tok)
		}
		again, err := auth.ParseAuthorization("Bearer " + tok)
		if err != nil || again != tok {
			t.Fatalf("round trip %q -> %q, %v", tok, again, err)
		}
	})
}

func FuzzChallenge(f *testing.F) {
	f.Add("invalid_token", `audience "x" is not "y"`, "notes:read notes:write", "https://a/.well-known/oauth-protected-resource/mcp")
	f.Add("", "line\r\nbreak\\", "", "https://a")
	f.Fuzz(func(t *testing.T, code, desc, scope, rm string) {
		c := auth.Challenge{Error: code, Description: desc, Scope: scope, ResourceMetadata: rm}
		h := c.String()
		if strings.ContainsAny(h, "\r\n") {
			t.Fatalf("challenge has a line break: %q", h)
		}
		p, err := challenge.Parse(h)
		if err != nil {
			t.Fatalf("our own challenge %q does not parse: %v", h, err)
		}
		for name, v := range map[string]string{"error": code, "error_description": desc, "scope": scope, "resource_metadata": rm} {
			if got, ok := p[name]; ok != (v != "") || strings.ContainsAny(got, "\"\\") {
				t.Fatalf("param %s: %q (present %v) from %q", name, got, ok, v)
			}
		}
	})
}

// FuzzVerify feeds arbitrary tokens to a real Authenticator: it must never
// panic, never accept, and always return an *auth.Error.
func FuzzVerify(f *testing.F) {
	as := newTestAS(f)
	a := newAuth(f, as, nil)
	good := as.mint("rsa-1", as.claims(resource, "notes:read"), nil)
	f.Add(good[:len(good)-4] + "AAAA")
	f.Add(segment(good, 0) + "." + segment(good, 1) + ".")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	f.Add("a.b.c.d.e")
	f.Add("...")
	f.Fuzz(func(t *testing.T, tok string) {
		if tok == good {
			return
		}
		_, err := a.Verifier().Verify(context.Background(), tok)
		var e *auth.Error
		if err == nil || !errors.As(err, &e) {
			t.Fatalf("Verify(%q) = %v", tok, err)
		}
	})
}
