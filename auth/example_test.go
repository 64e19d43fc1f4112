package auth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/mcpauth/mcpauth/auth"
)

func ExampleChallenge() {
	c := auth.Challenge{
		ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
		Scope:            "notes:read notes:write",
		Error:            "insufficient_scope",
		Description:      `tool "add_note" needs notes:write`,
	}
	fmt.Println(c)
	// Output:
	// Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="notes:read notes:write", error="insufficient_scope", error_description="tool 'add_note' needs notes:write"
}

func ExampleBearerToken() {
	r := httptest.NewRequest(http.MethodPost, "https://mcp.example.com/mcp?access_token=abc", nil)
	_, err := auth.BearerToken(r)
	fmt.Println(errors.Is(err, auth.ErrRequestInvalid), auth.ReasonRequestInvalid.Status())

	r = httptest.NewRequest(http.MethodPost, "https://mcp.example.com/mcp", nil)
	r.Header.Set("Authorization", "bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	tok, _ := auth.BearerToken(r)
	fmt.Println(tok)
	// Output:
	// true 400
	// eyJhbGciOiJSUzI1NiJ9.e30.c2ln
}

func ExampleReason() {
	for _, r := range []auth.Reason{auth.ReasonTokenMissing, auth.ReasonExpired, auth.ReasonScopeInsufficient, auth.ReasonKeysetUnavailable} {
		fmt.Printf("%s %d %q\n", r, r.Status(), r.OAuthError())
	}
	// Output:
	// token_missing 401 ""
	// expired 401 "invalid_token"
	// scope_insufficient 403 "insufficient_scope"
	// keyset_unavailable 503 ""
}
