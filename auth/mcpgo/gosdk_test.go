package mcpgo_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/registration"
)

const redirectURL = "http://127.0.0.1:5555/callback"

// TestGoSDKClientModelsAndStepUp drives the official MCP Go SDK client
// through discovery, registration (static, DCR, CIMD), authorization code
// with PKCE, and a step-up on a 403 insufficient_scope, against the
// protected mcp-go server.
func TestGoSDKClientModelsAndStepUp(t *testing.T) {
	cimdSrv := httptest.NewTLSServer(nil)
	defer cimdSrv.Close()
	cimdURL := cimdSrv.URL + "/oauth/client-metadata.json"
	cimdSrv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"client_id": cimdURL, "client_name": "go-sdk via CIMD", "redirect_uris": []string{"http://127.0.0.1/callback"},
			"grant_types": []string{"authorization_code", "refresh_token"}, "token_endpoint_auth_method": "none",
		})
	})
	models := []struct {
		name string
		cfg  func(*sdkauth.AuthorizationCodeHandlerConfig)
		kind registration.Kind
	}{
		{"static", func(c *sdkauth.AuthorizationCodeHandlerConfig) {
			c.PreregisteredClient = &oauthex.ClientCredentials{ClientID: "quickstart-client", ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: "quickstart-secret"}}
		}, registration.KindStatic},
		{"dcr", func(c *sdkauth.AuthorizationCodeHandlerConfig) {
			c.DynamicClientRegistrationConfig = &sdkauth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
				RedirectURIs: []string{redirectURL}, TokenEndpointAuthMethod: "none", ClientName: "go-sdk via DCR",
				GrantTypes: []string{"authorization_code", "refresh_token"},
			}}
		}, registration.KindDynamic},
		{"cimd", func(c *sdkauth.AuthorizationCodeHandlerConfig) {
			c.ClientIDMetadataDocumentConfig = &sdkauth.ClientIDMetadataDocumentConfig{URL: cimdURL}
		}, registration.KindCIMD},
	}
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{as: authtest.Options{CIMD: true, CIMDOptions: registration.CIMDOptions{
				InsecureAllowLoopback: true, TLSConfig: cimdSrv.Client().Transport.(*http.Transport).TLSClientConfig,
			}}})
			var authorizations atomic.Int32
			cfg := &sdkauth.AuthorizationCodeHandlerConfig{RedirectURL: redirectURL, AuthorizationCodeFetcher: clienttest.CodeFetcher(&authorizations)}
			m.cfg(cfg)
			handler, err := sdkauth.NewAuthorizationCodeHandler(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			client := sdk.NewClient(&sdk.Implementation{Name: "go-sdk-test", Version: "1"}, nil)
			session, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: f.url, OAuthHandler: handler}, nil)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer session.Close()
			who, err := clienttest.CallText(ctx, session, "whoami", "")
			if err != nil || !strings.HasPrefix(who, "dev-user ") || !strings.HasSuffix(who, " notes:read") {
				t.Fatalf("whoami = %q, %v", who, err)
			}
			if m.kind == registration.KindCIMD && !strings.Contains(who, cimdURL) {
				t.Fatalf("CIMD client id not used: %q", who)
			}
			if authorizations.Load() != 1 {
				t.Fatalf("%d authorizations before the step-up, want 1", authorizations.Load())
			}
			// add_note needs notes:write: the 403 challenge makes the client re-authorize.
			out, err := clienttest.CallText(ctx, session, "add_note", "from go-sdk")
			if err != nil || out != "added" {
				t.Fatalf("add_note after step-up = %q, %v", out, err)
			}
			if authorizations.Load() != 2 {
				t.Fatalf("%d authorizations, want 2 (one step-up)", authorizations.Load())
			}
			who, err = clienttest.CallText(ctx, session, "whoami", "")
			if err != nil || !strings.HasSuffix(who, " notes:read notes:write") {
				t.Fatalf("scopes after step-up = %q, %v (the client must keep notes:read)", who, err)
			}
		})
	}
}
