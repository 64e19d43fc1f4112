package mcpgo_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
)

// notesServer is the notes MCP server of the quickstart, as a fixture.
type notesServer struct {
	mu    sync.Mutex
	notes []string
}

func (n *notesServer) build(a *auth.Authenticator, serverOpts []server.ServerOption, opts ...mcpgo.Option) *server.MCPServer {
	s := server.NewMCPServer("notes", "1.0.0", append(serverOpts, mcpgo.ServerOptions(a, opts...)...)...)
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t := auth.TokenFromContext(ctx)
		if t == nil {
			return mcp.NewToolResultError("no caller"), nil
		}
		return mcp.NewToolResultText(fmt.Sprintf("%s %s %s", t.Subject, t.ClientID, t.Scopes)), nil
	})
	s.AddTool(mcp.NewTool("list_notes", mcpgo.RequireScopes("notes:read")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		return mcp.NewToolResultText(strings.Join(n.notes, "\n")), nil
	})
	s.AddTool(mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write"), mcp.WithString("text")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.notes = append(n.notes, req.GetString("text", ""))
		return mcp.NewToolResultText("added"), nil
	})
	s.AddTool(mcp.NewTool("purge", mcpgo.Require(scopes.AnyOf(scopes.All("admin"), scopes.All("notes:admin")))), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("purged"), nil
	})
	s.AddPrompt(mcp.NewPrompt("summarize", mcpgo.RequirePromptScopes("notes:read")), func(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return mcp.NewGetPromptResult("summary", []mcp.PromptMessage{mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("summarize"))}), nil
	})
	s.AddResource(mcp.NewResource("notes://all", "all notes", mcpgo.RequireResourceScopes("notes:read")), func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: "notes://all", Text: "n"}}, nil
	})
	return s
}

// fixture is an MCP server protected by mcpauth with an authtest authorization server.
type fixture struct {
	server *server.MCPServer
	as     *authtest.Server
	a      *auth.Authenticator
	srv    *httptest.Server
	url    string
}

type fixtureOptions struct {
	stateless bool
	sse       bool
	hide      bool
	as        authtest.Options
	cfg       func(*auth.Config)
	// serverOptions go to the MCP server before mcpauth's.
	serverOptions []server.ServerOption
}

func newFixture(t *testing.T, fo fixtureOptions) *fixture {
	t.Helper()
	fo.as.Clients = append(fo.as.Clients, registration.Static("quickstart-client", "quickstart-secret", registration.Metadata{
		ClientName: "Quickstart", RedirectURIs: []string{"http://127.0.0.1/callback"},
		GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"},
	}, registration.RedirectPolicy{AllowLocalhost: true}))
	fo.as.AutoApprove = true
	as := authtest.Start(fo.as)
	t.Cleanup(as.Close)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f := &fixture{as: as, srv: srv, url: srv.URL + "/mcp"}
	cfg := auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}, Resource: f.url, BaselineScopes: []string{"notes:read"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if fo.cfg != nil {
		fo.cfg(&cfg)
	}
	a, err := auth.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	f.a = a
	var opts []mcpgo.Option
	if fo.hide {
		opts = append(opts, mcpgo.HideUnauthorized())
	}
	s := (&notesServer{}).build(a, fo.serverOptions, opts...)
	f.server = s
	var h http.Handler
	switch {
	case fo.sse:
		h = server.NewSSEServer(s, server.WithBaseURL(srv.URL), server.WithStaticBasePath("/mcp"))
	default:
		h = server.NewStreamableHTTPServer(s, server.WithStateful(!fo.stateless), server.WithStateLess(fo.stateless))
	}
	mux.Handle("/", mcpgo.Protect(a, s, h))
	return f
}

func (f *fixture) token(scope ...string) string {
	return f.as.Mint(authtest.TokenRequest{Audience: []string{f.url}, Scopes: scope})
}

func authtestReq(f *fixture, subject string, scope ...string) authtest.TokenRequest {
	return authtest.TokenRequest{Subject: subject, Audience: []string{f.url}, Scopes: scope}
}

func authtestReqClient(f *fixture, subject, clientID string, scope ...string) authtest.TokenRequest {
	return authtest.TokenRequest{Subject: subject, ClientID: clientID, Audience: []string{f.url}, Scopes: scope}
}
