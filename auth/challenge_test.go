package auth

import (
	"strings"
	"testing"

	bearer "github.com/mcpauth/mcpauth/internal/challenge"
)

// A description from a token or a request cannot break the header: quotes
// become apostrophes, line breaks spaces, other bytes outside RFC 6750's
// set are dropped.
func TestChallengeSanitizes(t *testing.T) {
	c := challenge{
		ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
		Scope:            "notes:read notes:write",
		Error:            "insufficient_scope",
		Description:      "tool \"add_note\" needs\r\nnotes:write\\ \u00e9",
	}
	want := `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="notes:read notes:write", error="insufficient_scope", error_description="tool 'add_note' needs  notes:write "`
	if got := c.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func FuzzChallenge(f *testing.F) {
	f.Add("invalid_token", `audience "x" is not "y"`, "notes:read notes:write", "https://a/.well-known/oauth-protected-resource/mcp")
	f.Add("", "line\r\nbreak\\", "", "https://a")
	f.Fuzz(func(t *testing.T, code, desc, scope, rm string) {
		c := challenge{Error: code, Description: desc, Scope: scope, ResourceMetadata: rm}
		h := c.String()
		if strings.ContainsAny(h, "\r\n") {
			t.Fatalf("challenge has a line break: %q", h)
		}
		p, err := bearer.Parse(h)
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
