package mcpgo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/registration"
)

const redirectURL = "http://127.0.0.1:5555/callback"

// codeFetcher plays the user's browser: it follows the authorization URL to
// the auto-approving authorization server and reads the redirect. It counts
// authorizations, so tests can see a step-up happen.
func codeFetcher(count *atomic.Int32) sdkauth.AuthorizationCodeFetcher {
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(ctx context.Context, args *sdkauth.AuthorizationArgs) (*sdkauth.AuthorizationResult, error) {
		count.Add(1)
		resp, err := browser.Get(args.URL)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound {
			return nil, fmt.Errorf("authorization failed: %d %v", resp.StatusCode, err)
		}
		q := loc.Query()
		if q.Get("error") != "" {
			return nil, fmt.Errorf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
		}
		return &sdkauth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
}

func sdkCall(ctx context.Context, s *sdk.ClientSession, tool string) (string, error) {
	res, err := s.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: map[string]any{"text": "from go-sdk"}})
	if err != nil {
		return "", err
	}
	text := res.Content[0].(*sdk.TextContent).Text
	if res.IsError {
		return "", fmt.Errorf("tool error: %s", text)
	}
	return text, nil
}

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
			cfg := &sdkauth.AuthorizationCodeHandlerConfig{RedirectURL: redirectURL, AuthorizationCodeFetcher: codeFetcher(&authorizations)}
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
			who, err := sdkCall(ctx, session, "whoami")
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
			out, err := sdkCall(ctx, session, "add_note")
			if err != nil || out != "added" {
				t.Fatalf("add_note after step-up = %q, %v", out, err)
			}
			if authorizations.Load() != 2 {
				t.Fatalf("%d authorizations, want 2 (one step-up)", authorizations.Load())
			}
			who, err = sdkCall(ctx, session, "whoami")
			if err != nil || !strings.HasSuffix(who, " notes:read notes:write") {
				t.Fatalf("scopes after step-up = %q, %v (the client must keep notes:read)", who, err)
			}
		})
	}
}
