package authtest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
)

func Example() {
	as := authtest.Start(authtest.Options{AutoApprove: true})
	defer as.Close()

	const resource = "https://mcp.example.com/mcp"
	a, err := auth.New(context.Background(), auth.Config{
		Resource: resource,
		Tokens:   auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	check := func(token string) (*auth.Token, error) {
		r := httptest.NewRequest(http.MethodPost, resource, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return a.Check(r)
	}

	t, err := check(as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{resource}, Scopes: []string{"notes:read"}}))
	fmt.Println(t.Subject, t.Scopes, err)

	_, err = check(as.Mint(authtest.TokenRequest{Audience: []string{"https://other.example.com/mcp"}}))
	fmt.Println(err.(*auth.Error).Reason)
	// Output:
	// alice notes:read <nil>
	// audience_mismatch
}
