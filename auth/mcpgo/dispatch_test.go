package mcpgo_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/internal/kit"
)

// dispatchFixture is a server with an admin-only item on every registry
// mcp-go dispatches from, each counting its runs.
type dispatchFixture struct {
	as   *authtest.Server
	s    *server.MCPServer
	url  string
	runs atomic.Int64
}

func newDispatchFixture(t *testing.T, gated bool) *dispatchFixture {
	t.Helper()
	as := authtest.Start(authtest.Options{})
	t.Cleanup(as.Close)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f := &dispatchFixture{as: as, url: srv.URL + "/mcp"}
	a, err := auth.New(context.Background(), auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}, Resource: f.url,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	opts := []server.ServerOption{server.WithTaskCapabilities(true, true, true)}
	if gated {
		opts = append(opts, mcpgo.ServerOptions(a)...)
	}
	s := server.NewMCPServer("d", "1", opts...)
	text := func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		f.runs.Add(1)
		return mcp.NewToolResultText("ran"), nil
	}
	s.AddTool(mcp.NewTool("open"), text)
	s.AddTaskTool(mcp.NewTool("admin_task", mcpgo.RequireScopes("admin"), mcp.WithTaskSupport(mcp.TaskSupportRequired)),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CreateTaskResult, error) {
			f.runs.Add(1)
			return &mcp.CreateTaskResult{}, nil
		})
	s.AddTool(mcp.NewTool("admin_hybrid", mcpgo.RequireScopes("admin"), mcp.WithTaskSupport(mcp.TaskSupportOptional)), text)
	malformed := mcp.NewTool("malformed")
	malformed.Meta = &mcp.Meta{AdditionalFields: map[string]any{kit.MetaKey: "admin"}}
	s.AddTool(malformed, text)
	resource := func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		f.runs.Add(1)
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, Text: "secret"}}, nil
	}
	s.AddResourceTemplate(mcp.NewResourceTemplate("secret://global/{id}", "secrets", mcpgo.RequireTemplateScopes("admin")),
		func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return resource(ctx, req)
		})
	f.s = s
	mux.Handle("/", mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s, server.WithStateful(true))))
	return f
}

func (f *dispatchFixture) post(t *testing.T, token, sid, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		return resp.StatusCode, sid
	}
	return resp.StatusCode, string(b)
}

func (f *dispatchFixture) token(scope ...string) string {
	return f.as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{f.url}, Scopes: scope})
}

func (f *dispatchFixture) session(t *testing.T, token string) string {
	t.Helper()
	status, sid := f.post(t, token, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if status != 200 || strings.Contains(sid, "{") {
		t.Fatalf("initialize: %d %s", status, sid)
	}
	f.post(t, token, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return sid
}

// TestEveryDispatchPathIsChecked: an admin-only tool, resource or template
// registered any way mcp-go offers never runs for a token without admin, and
// runs for one with it; an annotation that cannot be read runs for nobody.
func TestEveryDispatchPathIsChecked(t *testing.T) {
	f := newDispatchFixture(t, true)
	user, admin := f.token("notes:read"), f.token("admin")
	userSID, adminSID := f.session(t, user), f.session(t, admin)
	for _, sid := range []string{userSID, adminSID} {
		if err := f.s.AddSessionTool(sid, mcp.NewTool("admin_session", mcpgo.RequireScopes("admin")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			f.runs.Add(1)
			return mcp.NewToolResultText("ran"), nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := f.s.AddSessionResource(sid, mcp.NewResource("secret://session", "s", mcpgo.RequireResourceScopes("admin")), func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			f.runs.Add(1)
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, Text: "s"}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := f.s.AddSessionResourceTemplate(sid, mcp.NewResourceTemplate("secret://session/{id}", "s", mcpgo.RequireTemplateScopes("admin")), func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			f.runs.Add(1)
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, Text: "s"}}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	callTask := func(name string) string {
		return `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"` + name + `","arguments":{},"task":{"ttl":60000}}}`
	}
	read := func(uri string) string {
		return `{"jsonrpc":"2.0","id":6,"method":"resources/read","params":{"uri":"` + uri + `"}}`
	}
	for _, c := range []struct {
		name, body string
		adminRuns  bool // a token with admin may run it
	}{
		{"task tool (AddTaskTool)", callTask("admin_task"), true},
		{"regular tool run as a task", callTask("admin_hybrid"), true},
		{"regular tool run directly", call("admin_hybrid"), true},
		{"session tool (AddSessionTool)", call("admin_session"), true},
		{"session resource (AddSessionResource)", read("secret://session"), true},
		{"session resource template", read("secret://session/42"), true},
		{"server resource template", read("secret://global/42"), true},
		{"tool whose annotation cannot be read", call("malformed"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := f.runs.Load()
			status, body := f.post(t, user, userSID, c.body)
			waitTasks()
			if f.runs.Load() != before {
				t.Fatalf("ran for a token without admin: %d %s", status, body)
			}
			if status == 200 && !strings.Contains(body, "forbidden") || status != 200 && status != 403 {
				t.Fatalf("not refused: %d %s", status, body)
			}
			before = f.runs.Load()
			status, body = f.post(t, admin, adminSID, c.body)
			waitTasks()
			if ran := f.runs.Load() != before; ran != c.adminRuns {
				t.Fatalf("admin: ran %v, want %v: %d %s", ran, c.adminRuns, status, body)
			}
		})
	}
}

// TestStepUpThroughTaskToolsAndTemplates: the HTTP check resolves task
// tools and resource templates itself, so clients get the 403 they step up
// on, not just a JSON-RPC error.
func TestStepUpThroughTaskToolsAndTemplates(t *testing.T) {
	f := newDispatchFixture(t, true)
	user := f.token("notes:read")
	sid := f.session(t, user)
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"admin_task","arguments":{},"task":{}}}`,
		`{"jsonrpc":"2.0","id":6,"method":"resources/read","params":{"uri":"secret://global/1"}}`,
	} {
		if status, b := f.post(t, user, sid, body); status != 403 || !strings.Contains(b, `"scope":"admin`) {
			t.Fatalf("%s: %d %s", body, status, b)
		}
	}
}

// TestWithoutGateUnresolvableIsRefused: a server built without
// mcpgo.ServerOptions has no dispatch gate, so the HTTP check refuses what
// it cannot resolve (a session's own tool) instead of letting it run.
func TestWithoutGateUnresolvableIsRefused(t *testing.T) {
	f := newDispatchFixture(t, false)
	user := f.token("notes:read")
	sid := f.session(t, user)
	if err := f.s.AddSessionTool(sid, mcp.NewTool("admin_session", mcpgo.RequireScopes("admin")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		f.runs.Add(1)
		return mcp.NewToolResultText("ran"), nil
	}); err != nil {
		t.Fatal(err)
	}
	if status, b := f.post(t, user, sid, call("admin_session")); status != 403 || f.runs.Load() != 0 {
		t.Fatalf("session tool without a gate: %d %s (runs %d)", status, b, f.runs.Load())
	}
	if status, b := f.post(t, user, sid, call("open")); status != 200 || f.runs.Load() != 1 {
		t.Fatalf("an open tool without a gate: %d %s", status, b)
	}
}

// TestGateInProcess: the in-process transport never crosses HTTP; the gate
// refuses a task tool and a template for a context without a token.
func TestGateInProcess(t *testing.T) {
	f := newDispatchFixture(t, true)
	c, err := client.NewInProcessClient(f.s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	c.Start(ctx)
	c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, ClientInfo: mcp.Implementation{Name: "t", Version: "1"}}})
	if _, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "secret://global/1"}}); err == nil {
		t.Fatal("template read without a token succeeded")
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "admin_task"
	req.Params.Task = &mcp.TaskParams{}
	if _, err := c.CallTool(ctx, req); err == nil || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("task tool without a token: %v", err)
	}
	waitTasks()
	if f.runs.Load() != 0 {
		t.Fatalf("%d runs", f.runs.Load())
	}
}

// waitTasks gives a task that was started asynchronously time to reach its
// handler: tasks run on their own goroutine after the response.
func waitTasks() { time.Sleep(50 * time.Millisecond) }
