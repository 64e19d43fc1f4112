package scopes

import "testing"

// BenchmarkParseAndCheck parses a 10-scope claim, as a token verifier does
// once per token, and checks a requirement against it.
func BenchmarkParseAndCheck(b *testing.B) {
	n := MustNormalizer(Config{Implies: map[string][]string{"notes:admin": {"notes:write"}}})
	claims := map[string]any{"scope": "openid profile email offline_access notes:read notes:admin env:read env:write calendar:read mcp:tools"}
	req := AnyOf(All("admin"), All("notes:read", "notes:write"))
	b.ReportAllocs()
	for b.Loop() {
		set, err := n.FromClaims(claims)
		if err != nil || !n.Satisfies(set, req) {
			b.Fatal("not satisfied")
		}
	}
}

// BenchmarkCheckParsed checks a requirement against an already parsed Set.
func BenchmarkCheckParsed(b *testing.B) {
	n := MustNormalizer(Config{Implies: map[string][]string{"notes:admin": {"notes:write"}}})
	set := MustParse("openid profile email offline_access notes:read notes:admin env:read env:write calendar:read mcp:tools")
	req := AnyOf(All("admin"), All("notes:read", "notes:write"))
	b.ReportAllocs()
	for b.Loop() {
		if !n.Check(set, req).Satisfied {
			b.Fatal("not satisfied")
		}
	}
}

// BenchmarkParseArrayClaim parses an Okta-style 10-element scp array.
func BenchmarkParseArrayClaim(b *testing.B) {
	claims := map[string]any{"scp": []any{"openid", "profile", "email", "offline_access", "notes:read", "notes:write", "env:read", "env:write", "calendar:read", "mcp:tools"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (*Normalizer)(nil).FromClaims(claims); err != nil {
			b.Fatal(err)
		}
	}
}
