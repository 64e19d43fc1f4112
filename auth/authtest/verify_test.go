package authtest_test

import (
	"net/http"
	"net/http/httptest"

	"github.com/mcpauth/mcpauth/auth"
)

// verify checks tok as a's verifier does, through Check (which also
// requires the baseline scopes).
func verify(a *auth.Authenticator, tok string) (*auth.Token, error) {
	r := httptest.NewRequest(http.MethodPost, "https://mcp.example.com/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return a.Check(r)
}
