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
		Resource: "https://mcp.example.com/mcp",
		Issuers:  []auth.Issuer{{URL: as.URL}},
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()

	token := as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{"https://mcp.example.com/mcp"}, Scopes: []string{"notes:read"}})
	t, err := a.Verifier().Verify(context.Background(), token)
	fmt.Println(t.Subject, t.Scopes, err)

	other := as.Mint(authtest.TokenRequest{Audience: []string{"https://other.example.com/mcp"}})
	_, err = a.Verifier().Verify(context.Background(), other)
	fmt.Println(err.(*auth.Error).Reason)
	// Output:
	// alice notes:read <nil>
	// audience_mismatch
}
