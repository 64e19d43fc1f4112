// Command gosdk is the quickstart's notes MCP server built on the official
// MCP Go SDK (github.com/modelcontextprotocol/go-sdk) and protected by
// mcpauth through auth/gosdk, with the same flags, tools and embedded
// development authorization server:
//
//	go run ./examples/gosdk
//
// MCP is served at http://127.0.0.1:8080/mcp and the development
// authorization server at http://127.0.0.1:8081.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/gosdk"
	"github.com/mcpauth/mcpauth/internal/exampleapp"
)

func main() {
	var cfg exampleapp.Config
	exampleapp.Flags(flag.CommandLine, &cfg)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := exampleapp.Run(ctx, cfg, os.Stdout, nil, build); err != nil {
		log.Fatal(err)
	}
}

type noteInput struct {
	Text string `json:"text" jsonschema:"the note"`
}

// build is the MCP server: three tools, two of them declared with the
// scopes they need, one line each, behind mcpauth.
func build(a *auth.Authenticator) (exampleapp.Server, error) {
	var notes exampleapp.Notes
	s := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "1.0.0"}, nil)
	p := gosdk.New(a, s)
	mcp.AddTool(s, &mcp.Tool{Name: "whoami", Description: "Who is calling: subject, client and scopes."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
			return text(exampleapp.Whoami(auth.TokenFromContext(ctx))), nil, nil
		})
	mcp.AddTool(s, p.Tool(&mcp.Tool{Name: "list_notes", Description: "List the notes."}, "notes:read"),
		func(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
			return text(notes.List()), nil, nil
		})
	mcp.AddTool(s, p.Tool(&mcp.Tool{Name: "add_note", Description: "Add a note."}, "notes:write"),
		func(ctx context.Context, req *mcp.CallToolRequest, in noteInput) (*mcp.CallToolResult, any, error) {
			if in.Text == "" {
				return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "text is required"}}}, nil, nil
			}
			notes.Add(in.Text)
			return text("added: " + in.Text), nil, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, gosdk.HandlerOptions(a))
	return exampleapp.Server{Handler: cors(p.Protect(h)), SDK: "go-sdk"}, nil
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// cors lets browser-based clients (MCP Inspector in direct mode) connect:
// preflights are answered here, and responses expose the session id and
// the challenge.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate")
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}
