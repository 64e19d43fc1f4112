package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
)

// TestMCPGoStreamableHTTP runs the real mcp-go Streamable HTTP server behind
// the middleware and talks to it with the real mcp-go client over loopback.
func TestMCPGoStreamableHTTP(t *testing.T) {
	as := newTestAS(t)
	s := server.NewMCPServer("notes", "1.0.0")
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		tok := auth.TokenFromContext(ctx)
		if tok == nil {
			return mcp.NewToolResultError("no token in the tool's context"), nil
		}
		return mcp.NewToolResultText(tok.Subject + " via " + tok.ClientID + " with " + tok.Scopes.String()), nil
	})
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a := newAuth(t, as, func(c *auth.Config) { c.Resource = srv.URL + "/mcp" })
	a.Mount(mux, "/mcp", server.NewStreamableHTTPServer(s))

	connect := func(token string) (*client.Client, error) {
		var opts []transport.StreamableHTTPCOption
		if token != "" {
			opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
		}
		c, err := client.NewStreamableHttpClient(srv.URL+"/mcp", opts...)
		if err != nil {
			return nil, err
		}
		if err := c.Start(context.Background()); err != nil {
			return nil, err
		}
		_, err = c.Initialize(context.Background(), mcp.InitializeRequest{Params: mcp.InitializeParams{
			ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION,
			ClientInfo:      mcp.Implementation{Name: "test", Version: "1"},
		}})
		return c, err
	}

	t.Run("valid token calls a tool that sees the caller", func(t *testing.T) {
		c, err := connect(as.mint("rsa-1", as.claims(srv.URL+"/mcp", "notes:read"), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.CallTool(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "whoami"}})
		if err != nil {
			t.Fatal(err)
		}
		text := res.Content[0].(mcp.TextContent).Text
		if res.IsError || text != "user-123 via client-abc with notes:read" {
			t.Fatalf("whoami = %q (error %v)", text, res.IsError)
		}
	})
	t.Run("no token is refused with a 401 the client can act on", func(t *testing.T) {
		_, err := connect("")
		if err == nil || !(errors.Is(err, transport.ErrUnauthorized) || strings.Contains(err.Error(), "authorization required")) {
			t.Fatalf("err = %v, want 401", err)
		}
	})
	t.Run("token for another resource is refused", func(t *testing.T) {
		_, err := connect(as.mint("rsa-1", as.claims("https://elsewhere.example/mcp", "notes:read"), nil))
		if err == nil {
			t.Fatal("token for another resource accepted")
		}
	})
	t.Run("metadata is served beside the MCP endpoint", func(t *testing.T) {
		for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
			resp, err := http.Get(srv.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", p, resp.StatusCode)
			}
		}
	})
	t.Run("raw 401 from the wrapped server carries the challenge", func(t *testing.T) {
		resp, err := http.Post(srv.URL+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		p, err := auth.ParseChallenge(resp.Header.Get("WWW-Authenticate"))
		if resp.StatusCode != 401 || err != nil || p["resource_metadata"] != srv.URL+"/.well-known/oauth-protected-resource/mcp" || p["scope"] != "notes:read" {
			t.Fatalf("%d %q %v", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), err)
		}
	})
}
