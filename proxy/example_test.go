package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/mcpauth/mcpauth/auth"
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

// Machine clients, an enterprise IdP's ID-JAGs and DPoP-bound tokens: the
// metadata says what the token endpoint takes.
func Example_agents() {
	upstream := authtest.Start(authtest.Options{DisableDCR: true})
	defer upstream.Close()
	idp := authtest.Start(authtest.Options{}) // stands in for the enterprise's Okta
	defer idp.Close()
	p, err := proxy.New(context.Background(), proxy.Config{
		Issuer:   "https://auth.mcp.example.com",
		Resource: "https://mcp.example.com/mcp",
		Upstream: proxy.Upstream{Issuer: upstream.URL, ClientID: "mcp-proxy", ClientSecret: "secret"},
		Clients: []*registration.Client{
			registration.Static("nightly-report", "report-secret", registration.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "notes:read"}, registration.RedirectPolicy{}),
			registration.Static("claude-enterprise", "ent-secret", registration.Metadata{GrantTypes: []string{proxy.GrantJWTBearer}}, registration.RedirectPolicy{}),
		},
		Enterprise:      []proxy.EnterpriseIdP{{Issuer: idp.URL}},
		DPoP:            &auth.DPoPConfig{},
		ScopesSupported: []string{"notes:read", "notes:write"},
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	m := p.Metadata()
	fmt.Println(m.GrantTypesSupported)
	fmt.Println(m.AuthorizationGrantProfilesSupported, m.DPoPSigningAlgValuesSupported[0])
	// Output:
	// [authorization_code refresh_token client_credentials urn:ietf:params:oauth:grant-type:jwt-bearer]
	// [urn:ietf:params:oauth:grant-profile:id-jag] ES256
}

// A tool handler calls another API as the signed-in user: the proxy gets
// a token made for that API by token exchange at the upstream; the MCP
// client's token never leaves the server.
func ExampleProxy_DownstreamToken() {
	var p *proxy.Proxy // built with proxy.New
	handler := func(ctx context.Context) error {
		tok, err := p.DownstreamToken(ctx, "https://api.example.com", "api:read")
		if errors.Is(err, proxy.ErrNoUpstreamToken) {
			return errors.New("this caller did not sign in through the upstream (a machine client)")
		}
		if err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/items", nil)
		tok.SetAuthHeader(req)
		_, err = http.DefaultClient.Do(req)
		return err
	}
	_ = handler
}
