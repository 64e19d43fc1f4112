// Command quickstart is a notes MCP server built on mark3labs/mcp-go and
// protected by mcpauth, with an embedded development authorization server
// (auth/authtest), so OAuth works on a fresh machine with no identity
// provider:
//
//	go run ./examples/quickstart
//
// MCP is served at http://127.0.0.1:8080/mcp and the development
// authorization server at http://127.0.0.1:8081. With -issuer it trusts a
// real authorization server instead. examples/gosdk is the same server on
// the official MCP Go SDK.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
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

// build is the MCP server: three tools, two annotated with the scopes they
// need, behind mcpauth.
func build(a *auth.Authenticator) (exampleapp.Server, error) {
	var notes exampleapp.Notes
	s := server.NewMCPServer("notes", "1.0.0", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami", mcp.WithDescription("Who is calling: subject, client and scopes.")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(exampleapp.Whoami(auth.TokenFromContext(ctx))), nil
		})
	s.AddTool(mcp.NewTool("list_notes", mcp.WithDescription("List the notes."), mcpgo.RequireScopes("notes:read")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(notes.List()), nil
		})
	s.AddTool(mcp.NewTool("add_note", mcp.WithDescription("Add a note."), mcp.WithString("text", mcp.Required()), mcpgo.RequireScopes("notes:write")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			text := req.GetString("text", "")
			if text == "" {
				return mcp.NewToolResultError("text is required"), nil
			}
			notes.Add(text)
			return mcp.NewToolResultText("added: " + text), nil
		})
	// TransportOptions makes idle sessions end when their binding to a
	// subject does (auth.Config.SessionIdleTimeout), so they cannot pile up.
	// CORS lets browser-based clients (MCP Inspector in direct mode) connect.
	transport := server.NewStreamableHTTPServer(s, mcpgo.TransportOptions(a)...)
	return exampleapp.Server{Handler: auth.CORS{}.Handler(mcpgo.Protect(a, s, transport)), SDK: "mcp-go"}, nil
}
