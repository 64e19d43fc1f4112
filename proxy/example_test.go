package proxy_test

import (
	"context"
	"fmt"

	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
)

// A proxy in front of an OpenID provider that knows only the proxy's own
// client: MCP clients register at the proxy, which publishes its own
// metadata.
func Example() {
	upstream := authtest.Start(authtest.Options{DisableDCR: true}) // stands in for Entra ID, Google, Okta...
	defer upstream.Close()
	p, err := proxy.New(context.Background(), proxy.Config{
		Issuer:          "https://auth.mcp.example.com",
		Resource:        "https://mcp.example.com/mcp",
		Upstream:        proxy.Upstream{Issuer: upstream.URL, ClientID: "mcp-proxy", ClientSecret: "secret"},
		DCR:             &registration.Policy{},
		CIMD:            &registration.CIMDOptions{},
		ScopesSupported: []string{"notes:read", "notes:write"},
	})
	if err != nil {
		panic(err)
	}
	m := p.Metadata()
	fmt.Println(m.Issuer, m.RegistrationEndpoint, m.ClientIDMetadataDocumentSupported, m.CodeChallengeMethodsSupported)
	// Output:
	// https://auth.mcp.example.com https://auth.mcp.example.com/register true [S256]
}
