package mcpgo_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
)

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// A binding lasts as long as mcp-go's session: while alice holds a stream
// open past the idle timeout, her session stays hers (mallory's use of it
// is 404, hers works); once she closes it and the binding idles out, the
// session is ended in mcp-go too, so nobody can take it over.
func TestBindingLastsAsLongAsTheSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{cfg: func(c *auth.Config) { c.SessionIdleTimeout = time.Second }})
	alice := f.as.Mint(authtestReq(f, "alice", "notes:read"))
	mallory := f.as.Mint(authtestReq(f, "mallory", "notes:read"))
	res := post(t, f, alice, initialize, nil)
	sid := res.header.Get("Mcp-Session-Id")
	if res.status != 200 || sid == "" {
		t.Fatalf("initialize: %d", res.status)
	}
	post(t, f, alice, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, map[string]string{"Mcp-Session-Id": sid})

	ctx, closeStream := context.WithCancel(context.Background())
	defer closeStream()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.url, nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("GET stream: %v %v", err, stream)
	}
	time.Sleep(2500 * time.Millisecond) // past the idle timeout, sweeps included
	if res := post(t, f, mallory, call("whoami"), map[string]string{"Mcp-Session-Id": sid}); res.status != 404 || strings.Contains(res.raw, "alice") {
		t.Fatalf("mallory took over alice's session while her stream was open: %d %s", res.status, res.raw)
	}
	if res := post(t, f, alice, call("whoami"), map[string]string{"Mcp-Session-Id": sid}); res.status != 200 || !strings.Contains(res.raw, "alice") {
		t.Fatalf("alice lost her session while her stream was open: %d %s", res.status, res.raw)
	}
	closeStream()
	stream.Body.Close()
	time.Sleep(2500 * time.Millisecond) // the binding idles out, the session ends with it
	for who, tok := range map[string]string{"mallory": mallory, "alice": alice} {
		if res := post(t, f, tok, call("whoami"), map[string]string{"Mcp-Session-Id": sid}); res.status != 404 {
			t.Fatalf("%s used a session whose binding idled out: %d %s", who, res.status, res.raw)
		}
	}
}

// Unknown names cost no listing each: a batch of 64 calls to tools that do
// not exist, sent twice, makes the server list its tools at most once for
// the HTTP check and once for the gate (each keeps the listing a second),
// where each unknown name used to cost a full tools/list.
func TestUnknownNamesCostOneListingASecond(t *testing.T) {
	var listings atomic.Int64
	f := newFixture(t, fixtureOptions{serverOptions: []server.ServerOption{server.WithToolFilter(func(_ context.Context, tools []mcp.Tool) []mcp.Tool {
		listings.Add(1)
		return tools
	})}})
	tok := f.token("notes:read")
	var batch []string
	for i := range 64 {
		batch = append(batch, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"missing_%d"}}`, i, i))
	}
	for range 2 {
		post(t, f, tok, "["+strings.Join(batch, ",")+"]", map[string]string{"MCP-Protocol-Version": "2025-03-26"})
	}
	if n := listings.Load(); n > 2 { // one for the HTTP check, one for the dispatch gate

		t.Fatalf("128 unknown names cost %d listings", n)
	}
}

// A task tool added after the listing was read is refused (never allowed
// on a guess) until the listing may be read again, a second later; then
// its own requirement applies.
func TestTaskToolAddedLaterFailsClosedThenResolves(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	reader, writer := f.token("notes:read"), f.token("notes:read", "notes:write")
	post(t, f, reader, call("no_such_tool"), nil) // the listing is read now
	f.server.AddTaskTool(mcp.NewTool("export", mcp.WithTaskSupport(mcp.TaskSupportOptional), mcpgo.RequireScopes("notes:write")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CreateTaskResult, error) {
			return &mcp.CreateTaskResult{}, nil
		})
	if res := post(t, f, writer, call("export"), nil); res.status == 200 && !strings.Contains(res.raw, "forbidden") {
		t.Fatalf("a task tool unknown to the kept listing was let through: %d %s", res.status, res.raw)
	}
	time.Sleep(1100 * time.Millisecond)
	if res := post(t, f, reader, call("export"), nil); res.status != 403 || res.challenge["scope"] != "notes:read notes:write" {
		t.Fatalf("the task tool's requirement after the listing was read again: %d %v %s", res.status, res.challenge, res.raw)
	}
}

// Anonymous discovery: initialize and listings without a token; the first
// operation without one gets the usual 401 and challenge; the session is
// alice's once she sends her token in it, and nobody else's after.
func TestAnonymousDiscovery(t *testing.T) {
	f := newFixture(t, fixtureOptions{hide: true, cfg: func(c *auth.Config) { c.AnonymousDiscovery = true }})
	res := post(t, f, "", initialize, nil)
	sid := res.header.Get("Mcp-Session-Id")
	if res.status != 200 || sid == "" {
		t.Fatalf("anonymous initialize: %d %s", res.status, res.raw)
	}
	in := map[string]string{"Mcp-Session-Id": sid}
	post(t, f, "", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, in)
	res = post(t, f, "", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, in)
	if res.status != 200 || !strings.Contains(res.raw, "whoami") || strings.Contains(res.raw, "add_note") {
		t.Fatalf("anonymous tools/list (hiding what needs a scope): %d %s", res.status, res.raw)
	}
	res = post(t, f, "", call("whoami"), in)
	if res.status != 401 || res.challenge["resource_metadata"] == "" || res.challenge["scope"] != "notes:read" || res.challenge["error"] != "" {
		t.Fatalf("an anonymous call: %d %v", res.status, res.challenge)
	}
	// A batch that mixes a listing and a call is a call.
	if res := post(t, f, "", `[{"jsonrpc":"2.0","id":3,"method":"tools/list"},`+call("whoami")+`]`, map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-03-26"}); res.status != 401 {
		t.Fatalf("a batch hiding a call among listings: %d", res.status)
	}
	alice := f.as.Mint(authtestReq(f, "alice", "notes:read"))
	if res := post(t, f, alice, call("whoami"), in); res.status != 200 || !strings.Contains(res.raw, "alice") {
		t.Fatalf("alice in the session she browsed anonymously: %d %s", res.status, res.raw)
	}
	if res := post(t, f, "", `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`, in); res.status != 404 {
		t.Fatalf("anonymous use of alice's session: %d", res.status)
	}
	if res := post(t, f, f.as.Mint(authtestReq(f, "mallory", "notes:read")), call("whoami"), in); res.status != 404 {
		t.Fatalf("mallory in alice's session: %d", res.status)
	}
	off := newFixture(t, fixtureOptions{})
	if res := post(t, off, "", initialize, nil); res.status != 401 {
		t.Fatalf("initialize without a token, anonymous discovery off: %d", res.status)
	}
}
