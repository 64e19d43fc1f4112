package mcpgo_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
	a, err := auth.New(context.Background(), auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}, Resource: resource,
		BaselineScopes: []string{"notes:read"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
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
	run1 := func(b *testing.B, h http.Handler, withToken bool) {
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
	run := func(b *testing.B, h http.Handler, withToken bool) {
		b.ReportAllocs()
		for b.Loop() {
			run1(b, h, withToken)
		}
	}
	b.Run("unprotected", func(b *testing.B) { run(b, plain, false) })
	b.Run("mcpauth-cached", func(b *testing.B) { run(b, protected, true) })
	httpOnlySrv := build()
	httpOnly := mcpgo.Protect(a, httpOnlySrv, server.NewStreamableHTTPServer(httpOnlySrv, server.WithStateLess(true)))
	b.Run("mcpauth-cached-http-check-only", func(b *testing.B) { run(b, httpOnly, true) })
	// Paired: the three back to back in every iteration, so that the
	// overheads (µs over the unprotected call) are not a drifting
	// machine's.
	b.Run("paired", func(b *testing.B) {
		var spent [3]time.Duration
		for b.Loop() {
			for i, h := range []http.Handler{plain, httpOnly, protected} {
				t0 := time.Now()
				run1(b, h, i > 0)
				spent[i] += time.Since(t0)
			}
		}
		b.ReportMetric(float64(spent[1]-spent[0])/float64(b.N)/1e3, "http-check-µs")
		b.ReportMetric(float64(spent[2]-spent[0])/float64(b.N)/1e3, "protected-µs")
	})
}

// BenchmarkUnknownToolBatch sends, through mcpauth in front of a stateless
// mcp-go server, a batch of 64 calls to tools that do not exist (4.8 KB),
// and a benign call, on servers of 10 to 5,000 tools. Resolving a name
// costs O(1) whatever the number of tools, so the batch's cost stays flat
// from 10 tools to 5,000 (it cost 57x to 9,800x a benign call when each
// unknown name was looked for in a full tools/list).
func BenchmarkUnknownToolBatch(b *testing.B) {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	const resource = "https://mcp.example.com/mcp"
	a, err := auth.New(context.Background(), auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}, Resource: resource,
		BaselineScopes: []string{"notes:read"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	token := as.Mint(authtest.TokenRequest{Audience: []string{resource}, Scopes: []string{"notes:read"}})
	var batch strings.Builder
	batch.WriteString("[")
	for i := range 64 {
		if i > 0 {
			batch.WriteString(",")
		}
		fmt.Fprintf(&batch, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"no_such_tool_%02d","arguments":{}}}`, i, i)
	}
	batch.WriteString("]")
	benign := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"tool_0","arguments":{}}}`
	for _, n := range []int{10, 100, 1000, 5000} {
		s := server.NewMCPServer("many", "1", mcpgo.ServerOptions(a)...)
		for i := range n {
			s.AddTool(mcp.NewTool(fmt.Sprintf("tool_%d", i), mcp.WithDescription("a tool of a large server"), mcpgo.RequireScopes("notes:read")),
				func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return mcp.NewToolResultText("ok"), nil
				})
		}
		h := mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s, server.WithStateLess(true)))
		for name, body := range map[string]string{"unknown-batch-64": batch.String(), "benign": benign} {
			b.Run(fmt.Sprintf("%s/tools=%d", name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					r := httptest.NewRequest("POST", resource, strings.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					r.Header.Set("Accept", "application/json, text/event-stream")
					r.Header.Set("Mcp-Protocol-Version", "2025-03-26") // batches
					r.Header.Set("Authorization", "Bearer "+token)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, r)
					if rec.Code != 200 && rec.Code != 400 { // mcp-go answers a batch 400, after mcpauth resolved all 64
						b.Fatalf("%d %s", rec.Code, rec.Body.String())
					}
				}
			})
		}
	}
}
