package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
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

func ExampleAuthenticator_Protect() {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	const resource = "https://mcp.example.com/mcp"
	a, err := auth.New(context.Background(), auth.Config{
		Resource:       resource,
		Issuers:        []auth.Issuer{{URL: as.URL}},
		BaselineScopes: []string{"notes:read"},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	h := protect(a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello", auth.TokenFromContext(r.Context()).Subject)
	}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, resource, nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))

	req := httptest.NewRequest(http.MethodPost, resource, nil)
	req.Header.Set("Authorization", "Bearer "+as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{resource}, Scopes: []string{"notes:read"}}))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 401 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="notes:read"
	// 200 hello alice
}
