package mcpgo_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/internal/kit"
)

func connect(t *testing.T, f *fixture, token string, sse bool) *client.Client {
	return connectVersion(t, f, token, sse, mcp.LATEST_PROTOCOL_VERSION)
}

func connectVersion(t *testing.T, f *fixture, token string, sse bool, version string) *client.Client {
	t.Helper()
	headers := map[string]string{"Authorization": "Bearer " + token}
	var c *client.Client
	var err error
	if sse {
		c, err = client.NewSSEMCPClient(f.srv.URL+"/mcp/sse", transport.WithHeaders(headers))
	} else {
		c, err = client.NewStreamableHttpClient(f.url, transport.WithHTTPHeaders(headers))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(context.Background(), mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: version, ClientInfo: mcp.Implementation{Name: "test", Version: "1"},
	}}); err != nil {
		t.Fatal(err)
	}
	return c
}

func callTool(c *client.Client, name string) (string, bool, error) {
	res, err := c.CallTool(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: map[string]any{"text": "hello"}}})
	if err != nil {
		return "", false, err
	}
	var text string
	if len(res.Content) > 0 {
		text = res.Content[0].(mcp.TextContent).Text
	}
	return text, res.IsError, nil
}

func toolNames(t *testing.T, c *client.Client) (map[string]mcp.Tool, string) {
	t.Helper()
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]mcp.Tool{}
	var names []string
	for _, tool := range res.Tools {
		out[tool.Name] = tool
		names = append(names, tool.Name)
	}
	return out, strings.Join(names, " ")
}

func TestMCPGoClientTransports(t *testing.T) {
	for _, mode := range []fixtureOptions{{}, {stateless: true}, {sse: true}} {
		name := map[bool]string{true: "stateless", false: "stateful"}[mode.stateless]
		if mode.sse {
			name = "sse"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, mode)
			c := connect(t, f, f.token("notes:read"), mode.sse)
			if text, isErr, err := callTool(c, "whoami"); err != nil || isErr || text != "dev-user authtest-client notes:read" {
				t.Fatalf("whoami = %q %v %v", text, isErr, err)
			}
			// Over SSE too, calls arrive by POST and get the 403 before mcp-go.
			text, isErr, err := callTool(c, "add_note")
			if err == nil || !strings.Contains(err.Error(), "notes:write") {
				t.Fatalf("add_note without notes:write: %q %v %v", text, isErr, err)
			}
		})
	}
}

func TestToolsListShowsRequirements(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := connect(t, f, f.token("notes:read"), false)
	tools, names := toolNames(t, c)
	if names != "add_note list_notes purge whoami" && len(tools) != 4 {
		t.Fatalf("tools = %s", names)
	}
	meta := tools["purge"].Meta
	if meta == nil {
		t.Fatal("purge has no _meta")
	}
	req, ok := mcpgo.RequirementOf(meta) // decoded JSON form, as clients see it
	if !ok || req.String() != "admin | notes:admin" {
		t.Fatalf("_meta[%s] = %v", kit.MetaKey, meta.AdditionalFields[kit.MetaKey])
	}
	if _, ok := mcpgo.RequirementOf(tools["whoami"].Meta); ok {
		t.Fatal("unannotated tool carries a requirement")
	}
}

func TestHideUnauthorized(t *testing.T) {
	f := newFixture(t, fixtureOptions{hide: true})
	c := connect(t, f, f.token("notes:read"), false)
	if _, names := toolNames(t, c); names != "list_notes whoami" && names != "whoami list_notes" {
		t.Fatalf("visible tools = %q", names)
	}
	if _, _, err := callTool(c, "add_note"); err == nil {
		t.Fatal("a hidden tool was callable")
	}
	c2 := connect(t, f, f.token("notes:read", "notes:write", "admin"), false)
	if _, names := toolNames(t, c2); len(strings.Fields(names)) != 4 {
		t.Fatalf("visible tools with every scope = %q", names)
	}
}

// A list filtered for the caller is marked cacheScope private (SEP-2549),
// even on a server whose lists are otherwise public; an unfiltered one
// keeps the server's hints.
func TestFilteredListsArePrivate(t *testing.T) {
	list := `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
		`"io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}`
	modern := map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}
	public := []server.ServerOption{server.WithCacheHints(60_000, mcp.CacheScopePublic)}
	for _, tt := range []struct {
		hide  bool
		scope string
	}{{true, "private"}, {false, "public"}} {
		f := newFixture(t, fixtureOptions{hide: tt.hide, stateless: true, serverOptions: public})
		res := post(t, f, f.token("notes:read"), list, modern)
		result, _ := res.body["result"].(map[string]any)
		if res.status != 200 || result["cacheScope"] != tt.scope {
			t.Fatalf("hide=%v: cacheScope %v, want %s (%d %s)", tt.hide, result["cacheScope"], tt.scope, res.status, res.raw)
		}
	}
}

func TestSessionHijack(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	alice := f.as.Mint(authtestReq(f, "alice", "notes:read"))
	c := connectVersion(t, f, alice, false, mcp.LATEST_LEGACY_PROTOCOL_VERSION) // sessions ended with 2026-07-28
	sid := c.GetSessionId()
	if sid == "" {
		t.Fatal("no session id")
	}
	mallory := f.as.Mint(authtestReq(f, "mallory", "notes:read"))
	res := post(t, f, mallory, call("whoami"), map[string]string{"Mcp-Session-Id": sid})
	if res.status != 404 || strings.Contains(res.raw, "alice") {
		t.Fatalf("another subject's token with alice's session: %d %s", res.status, res.raw)
	}
	// Alice after a step-up (new token, new client id) keeps her session.
	stepped := f.as.Mint(authtestReqClient(f, "alice", "re-registered-client", "notes:read", "notes:write"))
	res = post(t, f, stepped, call("whoami"), map[string]string{"Mcp-Session-Id": sid})
	if res.status != 200 || !strings.Contains(res.raw, "alice re-registered-client") {
		t.Fatalf("alice's new token lost her session: %d %s", res.status, res.raw)
	}
}

// TestDefenceInDepthInProcess calls tools through mcp-go's in-process
// transport, which never crosses HTTP: the dispatch gate must refuse.
func TestDefenceInDepthInProcess(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	s := (&notesServer{}).build(f.a, nil)
	c, err := client.NewInProcessClient(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Start(context.Background())
	c.Initialize(context.Background(), mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, ClientInfo: mcp.Implementation{Name: "t", Version: "1"}}})
	text, _, err := callTool(c, "add_note")
	if err == nil || !strings.Contains(err.Error(), "no validated token") {
		t.Fatalf("in-process add_note without a token = %q %v", text, err)
	}
	if _, err := c.GetPrompt(context.Background(), mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: "summarize"}}); err == nil {
		t.Fatal("in-process prompt without a token succeeded")
	}
	if _, err := c.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "notes://all"}}); err == nil {
		t.Fatal("in-process resource read without a token succeeded")
	}
	if text, isErr, _ := callTool(c, "whoami"); !isErr || text != "no caller" {
		t.Fatalf("unannotated tool: %q", text)
	}
	_ = auth.TokenFromContext
}

// TestSSESessionHijack: over the legacy SSE transport the session id travels
// in the message endpoint's query; another subject's token cannot post to it.
func TestSSESessionHijack(t *testing.T) {
	f := newFixture(t, fixtureOptions{sse: true})
	c := connect(t, f, f.as.Mint(authtestReq(f, "alice", "notes:read")), true)
	if _, isErr, err := callTool(c, "whoami"); err != nil || isErr {
		t.Fatalf("alice: %v", err)
	}
	endpoint := c.GetTransport().(*transport.SSE).GetEndpoint() // the message URL with alice's sessionId
	if endpoint == nil || endpoint.Query().Get("sessionId") == "" {
		t.Fatalf("no SSE session in %v", endpoint)
	}
	req, _ := http.NewRequest("POST", endpoint.String(), strings.NewReader(call("whoami")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.as.Mint(authtestReq(f, "mallory", "notes:read")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("mallory posting into alice's SSE session: %d", resp.StatusCode)
	}
}

// TestSSETrailingDataCannotHideACall: mcp-go's SSE transport decodes the
// first JSON value of a message and ignores what follows; the check sees the
// same call.
func TestSSETrailingDataCannotHideACall(t *testing.T) {
	f := newFixture(t, fixtureOptions{sse: true})
	tok := f.token("notes:read")
	c := connect(t, f, tok, true)
	endpoint := c.GetTransport().(*transport.SSE).GetEndpoint()
	req, _ := http.NewRequest("POST", endpoint.String(), strings.NewReader(call("add_note")+` {"trailing":`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("guarded call with trailing data over SSE: HTTP %d", resp.StatusCode)
	}
}
