package registration_test

import (
	"fmt"

	"github.com/mcpauth/mcpauth/registration"
)

func ExampleRedirectPolicy_Match() {
	var p registration.RedirectPolicy
	registered := []string{"http://127.0.0.1/callback", "https://app.example.com/oauth/callback"}
	fmt.Println(p.Match(registered, "http://127.0.0.1:49152/callback")) // loopback: any port
	fmt.Println(p.Match(registered, "https://app.example.com/oauth/callback/"))
	fmt.Println(p.Match(registered, "https://app.example.com:8443/oauth/callback"))
	// Output:
	// <nil>
	// redirect_uri "https://app.example.com/oauth/callback/" does not match the registered "https://app.example.com/oauth/callback": they differ only by a trailing slash
	// redirect_uri "https://app.example.com:8443/oauth/callback" does not match the registered "https://app.example.com/oauth/callback": the port differs (only loopback redirects may use any port)
}

func ExampleStatic() {
	c := registration.Static("quickstart-client", "quickstart-secret", registration.Metadata{
		RedirectURIs: []string{"http://127.0.0.1/callback"},
	}, registration.RedirectPolicy{})
	fmt.Println(c.AuthenticateSecret("quickstart-secret"), c.AuthenticateSecret("guess"), c.Metadata.TokenEndpointAuthMethod)
	// Output: true false client_secret_basic
}
