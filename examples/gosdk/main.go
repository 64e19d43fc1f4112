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
	// CORS lets browser-based clients (MCP Inspector in direct mode) connect.
	return exampleapp.Server{Handler: auth.CORS{}.Handler(p.Protect(h)), SDK: "go-sdk"}, nil
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}
