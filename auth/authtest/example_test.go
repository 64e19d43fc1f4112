package authtest_test

import (
	"context"
	"fmt"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
)

func Example() {
	as := authtest.Start(authtest.Options{AutoApprove: true})
	defer as.Close()

	a, err := auth.New(context.Background(), auth.Config{
		Tokens:   auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}},
		Resource: "https://mcp.example.com/mcp",
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()

	token := as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{"https://mcp.example.com/mcp"}, Scopes: []string{"notes:read"}})
	t, err := verify(a, token)
	fmt.Println(t.Subject, t.Scopes, err)

	other := as.Mint(authtest.TokenRequest{Audience: []string{"https://other.example.com/mcp"}})
	_, err = verify(a, other)
	fmt.Println(err.(*auth.Error).Reason)
	// Output:
	// alice notes:read <nil>
	// audience_mismatch
}
