package gosdk_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/gosdk"
)

// One line per tool: add_note needs notes:write, so a notes:read token gets
// the 403 step-up challenge before the SDK runs anything.
func Example() {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	const resource = "https://mcp.example.com/mcp"
	a, err := auth.New(context.Background(), auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}, Resource: resource,
		BaselineScopes: []string{"notes:read"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()

	s := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "1.0.0"}, nil)
	p := gosdk.New(a, s)
	mcp.AddTool(s, p.Tool(&mcp.Tool{Name: "add_note"}, "notes:write"), func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "added"}}}, nil, nil
	})
	h := p.Protect(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, gosdk.HandlerOptions(a)))

	req := httptest.NewRequest(http.MethodPost, resource, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note","arguments":{}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+as.Mint(authtest.TokenRequest{Audience: []string{resource}, Scopes: []string{"notes:read"}}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 403 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="notes:read notes:write", error="insufficient_scope", error_description="the token lacks scope notes:write that this request needs"
}
