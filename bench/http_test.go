package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth/mcpgo"
)

var trivial = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

func do(b *testing.B, client *http.Client, target, tok, body string) {
	req, _ := http.NewRequest("POST", target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b.Fatalf("HTTP %d", resp.StatusCode)
	}
}

// BenchmarkHTTP sends one request through each middleware to a trivial
// handler over keep-alive loopback HTTP, serially and in parallel.
func BenchmarkHTTP(b *testing.B) {
	is := newIssuer(b)
	tok := is.token(b, "rs-1", nil)
	vs := append([]verifier{mcpauthVerifier(b, is, true), mcpauthVerifier(b, is, false)}, peers(b, is, "RS256")...)
	vs = append(vs, verifier{name: "no-auth", middleware: func(h http.Handler) http.Handler { return h }})
	for _, v := range vs {
		srv := httptest.NewServer(v.middleware(trivial))
		b.Cleanup(srv.Close)
		client := srv.Client()
		client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
		do(b, client, srv.URL, tok, "{}")
		b.Run("serial/"+v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				do(b, client, srv.URL, tok, "{}")
			}
		})
		b.Run("parallel/"+v.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					do(b, client, srv.URL, tok, "{}")
				}
			})
		})
	}
}

// BenchmarkToolsCall sends a tools/call to a stateless mcp-go Streamable
// HTTP server over loopback HTTP: unprotected, protected by mcpauth with a
// repeated (cached) token, and with the cache off so every request verifies
// a signature.
func BenchmarkToolsCall(b *testing.B) {
	is := newIssuer(b)
	tok := is.token(b, "rs-1", nil)
	build := func(opts ...server.ServerOption) *server.MCPServer {
		s := server.NewMCPServer("notes", "1.0.0", opts...)
		s.AddTool(mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("added"), nil
		})
		return s
	}
	plain := build()
	variants := []struct {
		name string
		h    http.Handler
	}{{"unprotected", server.NewStreamableHTTPServer(plain, server.WithStateLess(true))}}
	for _, cached := range []bool{true, false} {
		a := newMCPAuth(b, is, cached)
		s := build(mcpgo.ServerOptions(a)...)
		name := "mcpauth-cached-token"
		if !cached {
			name = "mcpauth-verify-every-request"
		}
		variants = append(variants, struct {
			name string
			h    http.Handler
		}{name, mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s, server.WithStateLess(true)))})
	}
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note","arguments":{"text":"hi"}}}`
	// Paired: each iteration calls the unprotected server and the protected
	// one (cached token) back to back, so that the ratio of their times is
	// not the drift of a shared machine between two runs.
	type target struct {
		client *http.Client
		url    string
	}
	var targets []target
	for _, v := range variants[:2] {
		srv := httptest.NewServer(v.h)
		b.Cleanup(srv.Close)
		targets = append(targets, target{srv.Client(), srv.URL})
		do(b, srv.Client(), srv.URL, tok, body)
	}
	b.Run("paired/protected-vs-unprotected", func(b *testing.B) {
		var plain, protected time.Duration
		for b.Loop() {
			t0 := time.Now()
			do(b, targets[0].client, targets[0].url, tok, body)
			t1 := time.Now()
			do(b, targets[1].client, targets[1].url, tok, body)
			plain, protected = plain+t1.Sub(t0), protected+time.Since(t1)
		}
		b.ReportMetric(float64(plain)/float64(protected), "throughput-ratio")
	})
	for _, v := range variants {
		srv := httptest.NewServer(v.h)
		b.Cleanup(srv.Close)
		client := srv.Client()
		client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
		do(b, client, srv.URL, tok, body)
		b.Run("serial/"+v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				do(b, client, srv.URL, tok, body)
			}
		})
		b.Run("parallel/"+v.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					do(b, client, srv.URL, tok, body)
				}
			})
		})
	}
}
