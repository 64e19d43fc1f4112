//go:build oidcprovider

package proxy_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
)

// TestOIDCProviderUpstream puts the proxy in front of a real third-party
// OpenID provider, panva's oidc-provider (e2e/oidcprovider, Node 20, npm ci;
// .ci/run runs it), configured with static clients only: the go-sdk client
// registers at the proxy (DCR), signs in through oidc-provider (its ID
// token verified by the proxy, PKCE required by the provider), and steps up.
//
//	(cd e2e/oidcprovider && npm ci) && go test -tags oidcprovider -run TestOIDCProviderUpstream ./proxy/
func TestOIDCProviderUpstream(t *testing.T) {
	dir, _ := filepath.Abs("../e2e/oidcprovider")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider")); err != nil {
		t.Fatalf("run npm ci in %s: %v", dir, err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	asURL := "http://" + ln.Addr().String()
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	port := free.Addr().(*net.TCPAddr).Port
	free.Close()
	cmd := exec.Command("node", "provider.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "CLIENT_ID=proxy-upstream-client", "CLIENT_SECRET=proxy-upstream-secret",
		"REDIRECT_URI="+asURL+"/callback", "ACCOUNT=oidc-alice")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	var upstream string
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "ready "); ok {
			upstream = rest
			break
		}
	}
	deadline.Stop()
	if upstream == "" {
		t.Fatal("oidc-provider did not start")
	}
	go io.Copy(io.Discard, stdout)

	mux := http.NewServeMux()
	mcpSrv := httptest.NewServer(mux)
	defer mcpSrv.Close()
	mcpURL := mcpSrv.URL + "/mcp"
	p, err := proxy.New(context.Background(), proxy.Config{Issuer: asURL, Resource: mcpURL, AutoApprove: true, ScopesSupported: []string{"notes:read", "notes:write"},
		Upstream: proxy.Upstream{Issuer: upstream, ClientID: "proxy-upstream-client", ClientSecret: "proxy-upstream-secret"},
		DCR:      &registration.Policy{Redirects: registration.RedirectPolicy{AllowLocalhost: true}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	defer srv.Close()
	a, err := auth.New(context.Background(), auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: asURL}}}, Resource: mcpURL, BaselineScopes: []string{"notes:read"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s := server.NewMCPServer("notes", "1", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t := auth.TokenFromContext(ctx)
		up, err := p.UpstreamToken(ctx, t)
		if err != nil || up.AccessToken == "" {
			return mcp.NewToolResultError("no upstream token"), nil
		}
		return mcp.NewToolResultText(t.Subject), nil
	})
	var downstream []string
	s.AddTool(mcp.NewTool("call_api"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		// The tool calls another API as the user: a token made for it by
		// token exchange at oidc-provider, never the client's token.
		tok, err := p.DownstreamToken(ctx, "https://api.example", "api:read")
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		downstream = append(downstream, tok.AccessToken)
		return mcp.NewToolResultText("called"), nil
	})
	s.AddTool(mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write")), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("added"), nil
	})
	mux.Handle("/", mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s)))

	const redirect = "http://127.0.0.1:33422/callback"
	var authorizations atomic.Int32
	h, err := sdkauth.NewAuthorizationCodeHandler(&sdkauth.AuthorizationCodeHandlerConfig{
		RedirectURL: redirect,
		DynamicClientRegistrationConfig: &sdkauth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "none"}},
		AuthorizationCodeFetcher: clienttest.CodeFetcher(&authorizations),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	session, err := sdk.NewClient(&sdk.Implementation{Name: "go-sdk", Version: "1"}, nil).Connect(ctx, &sdk.StreamableClientTransport{Endpoint: mcpURL, OAuthHandler: h}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	if who, err := clienttest.CallText(ctx, session, "whoami", ""); err != nil || who != "oidc-alice" {
		t.Fatalf("whoami = %q %v", who, err)
	}
	if got, err := clienttest.CallText(ctx, session, "add_note", "x"); err != nil || got != "added" || authorizations.Load() != 2 {
		t.Fatalf("add_note after step-up = %q %v (%d authorizations)", got, err, authorizations.Load())
	}

	// DownstreamToken: twice, the second from the cache.
	for range 2 {
		if got, err := clienttest.CallText(ctx, session, "call_api", ""); err != nil || got != "called" {
			t.Fatalf("call_api = %q %v", got, err)
		}
	}
	if len(downstream) != 2 || downstream[0] != downstream[1] {
		t.Fatalf("the downstream token was not reused from the cache: %d tokens", len(downstream))
	}
	api, err := auth.NewVerifier(ctx, auth.VerifierConfig{Issuers: []auth.Issuer{{URL: upstream}}, Audiences: []string{"https://api.example"}})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	dt, err := api.Verify(ctx, downstream[0])
	if err != nil {
		t.Fatalf("the downstream token is not oidc-provider's token for the API: %v", err)
	}
	if dt.Subject != "oidc-alice" || !dt.Scopes.Contains("api:read") || dt.ClientID != "proxy-upstream-client" {
		t.Fatalf("downstream token: sub %q scopes %q client %q", dt.Subject, dt.Scopes, dt.ClientID)
	}
}
