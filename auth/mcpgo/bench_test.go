package mcpgo_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
)

// BenchmarkToolsCall compares a tools/call on a stateless mcp-go Streamable
// HTTP server without and with mcpauth (cached token, per-tool check), in
// one run.
func BenchmarkToolsCall(b *testing.B) {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	const resource = "https://mcp.example.com/mcp"
	a, err := auth.New(context.Background(), auth.Config{Resource: resource, Issuers: []auth.Issuer{{URL: as.URL}},
		BaselineScopes: []string{"notes:read"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	build := func(opts ...server.ServerOption) *server.MCPServer {
		s := server.NewMCPServer("notes", "1.0.0", opts...)
		s.AddTool(mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("added"), nil
		})
		return s
	}
	plainSrv := build() // no mcpauth at all
	plain := server.NewStreamableHTTPServer(plainSrv, server.WithStateLess(true))
	protSrv := build(mcpgo.ServerOptions(a)...)
	protected := mcpgo.Protect(a, protSrv, server.NewStreamableHTTPServer(protSrv, server.WithStateLess(true)))
	token := as.Mint(authtest.TokenRequest{Audience: []string{resource}, Scopes: []string{"notes:read", "notes:write"}})
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note","arguments":{"text":"hi"}}}`
	run := func(b *testing.B, h http.Handler, withToken bool) {
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest("POST", resource, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", "application/json, text/event-stream")
			r.Header.Set("Mcp-Protocol-Version", "2025-11-25")
			if withToken {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), "added") {
				b.Fatalf("%d %s", rec.Code, rec.Body.String())
			}
		}
	}
	b.Run("unprotected", func(b *testing.B) { run(b, plain, false) })
	b.Run("mcpauth-cached", func(b *testing.B) { run(b, protected, true) })
	httpOnlySrv := build()
	httpOnly := mcpgo.Protect(a, httpOnlySrv, server.NewStreamableHTTPServer(httpOnlySrv, server.WithStateLess(true)))
	b.Run("mcpauth-cached-http-check-only", func(b *testing.B) { run(b, httpOnly, true) })
}
