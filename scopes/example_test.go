package scopes_test

import (
	"fmt"

	"github.com/mcpauth/mcpauth/scopes"
)

func ExampleNormalizer_FromClaims() {
	// An Entra v2 token whose scp carries the application's prefix, and an
	// Okta token whose scp is an array: both normalize to plain names.
	n := scopes.MustNormalizer(scopes.Config{
		StripPrefixes: []string{"api://6e74172b-be56-4843-9ff4-e66a39bb12e3/"},
	})
	entra, _ := n.FromClaims(map[string]any{"scp": "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/notes.read"})
	okta, _ := n.FromClaims(map[string]any{"scp": []any{"notes.read", "notes.write"}})
	fmt.Println(entra)
	fmt.Println(okta)
	// Output:
	// notes.read
	// notes.read notes.write
}

func ExampleNormalizer_Check() {
	n := scopes.MustNormalizer(scopes.Config{
		Implies: map[string][]string{"notes:admin": {"notes:write"}, "notes:write": {"notes:read"}},
	})
	granted := scopes.MustParse("notes:read")
	res := n.Check(granted, scopes.All("notes:write"))
	fmt.Println(res.Satisfied, res.Missing)
	fmt.Println("minimal:", res.Minimal)
	fmt.Println("granted plus needed:", res.GrantedPlusNeeded)

	admin := scopes.MustParse("notes:admin")
	fmt.Println(n.Satisfies(admin, scopes.All("notes:read", "notes:write")))
	// Output:
	// false notes:write
	// minimal: notes:write
	// granted plus needed: notes:read notes:write
	// true
}

func ExampleNormalizer_Explain() {
	n := scopes.MustNormalizer(scopes.Config{})
	granted := scopes.MustParse("orgs:write env:read")
	for _, h := range n.Explain(granted, scopes.All("org:write")) {
		fmt.Println(h.Code)
		fmt.Println(h.Message)
	}
	// Output:
	// plural
	// granted scope "orgs:write" differs from required "org:write" only by a plural ending; fix the name on one side, or set scopes.Config.Aliases["orgs:write"] = "org:write"
}

func ExampleAnyOf() {
	req := scopes.AnyOf(scopes.All("admin"), scopes.All("notes:read", "notes:write"))
	fmt.Println(req)
	again, _ := scopes.ParseRequirement(req.String())
	fmt.Println(len(again.Paths()))
	// Output:
	// admin | notes:read notes:write
	// 2
}
