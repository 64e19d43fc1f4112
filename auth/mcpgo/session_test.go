package mcpgo_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
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
