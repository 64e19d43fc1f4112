package mcpgo_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/challenge"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/internal/wire"
)

type rpcResult struct {
	status    int
	challenge map[string]string
	body      map[string]any
	raw       string
	header    http.Header
}

func post(t *testing.T, f *fixture, token, body string, headers map[string]string) rpcResult {
	t.Helper()
	req, _ := http.NewRequest("POST", f.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	res := rpcResult{status: resp.StatusCode, raw: string(b), header: resp.Header}
	if c := resp.Header.Get("WWW-Authenticate"); c != "" {
		p, err := challenge.Parse(c)
		if err != nil {
			t.Fatalf("malformed challenge %q: %v", c, err)
		}
		res.challenge = p
	}
	s := string(b)
	if i := strings.Index(s, "data: "); i >= 0 { // an SSE-framed response
		s = strings.TrimSpace(strings.SplitN(s[i+6:], "\n", 2)[0])
	}
	_ = json.Unmarshal([]byte(s), &res.body)
	return res
}

func call(tool string) string {
	return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"` + tool + `","arguments":{"text":"hi"}}}`
}

func TestStepUpChallenge(t *testing.T) {
	f := newFixture(t, fixtureOptions{stateless: true})
	res := post(t, f, f.token("notes:read"), call("add_note"), nil)
	if res.status != 403 {
		t.Fatalf("add_note with notes:read: %d %s", res.status, res.raw)
	}
	c := res.challenge
	if c["error"] != "insufficient_scope" || c["scope"] != "notes:read notes:write" || c["resource_metadata"] != f.srv.URL+"/.well-known/oauth-protected-resource/mcp" || c["error_description"] == "" {
		t.Fatalf("challenge = %v", c)
	}
	rpcErr, _ := res.body["error"].(map[string]any)
	if res.body["jsonrpc"] != "2.0" || res.body["id"] != 7.0 || rpcErr["code"] != float64(wire.CodeForbidden) {
		t.Fatalf("JSON-RPC body = %v", res.body)
	}
	data := rpcErr["data"].(map[string]any)
	if data["scope"] != "notes:read notes:write" || data["missing"] != "notes:write" || data["name"] != "add_note" {
		t.Fatalf("error data = %v", data)
	}
	if res := post(t, f, f.token("notes:read", "notes:write"), call("add_note"), nil); res.status != 200 || strings.Contains(res.raw, `"isError":true`) {
		t.Fatalf("add_note with notes:write: %d %s", res.status, res.raw)
	}
	if res := post(t, f, f.token("notes:read", "notes:admin"), call("purge"), nil); res.status != 200 {
		t.Fatalf("purge via the second path: %d %s", res.status, res.raw)
	}
	res = post(t, f, f.token("notes:read"), call("purge"), nil)
	if res.status != 403 || res.challenge["scope"] != "admin notes:read" {
		t.Fatalf("purge challenge: %d %v", res.status, res.challenge)
	}
}

func TestMinimalChallengeStrategyKeepsBaseline(t *testing.T) {
	f := newFixture(t, fixtureOptions{stateless: true, cfg: func(c *auth.Config) { c.ChallengeScopes = auth.MinimalScopes }})
	res := post(t, f, f.token("notes:read", "calendar:read"), call("add_note"), nil)
	if res.status != 403 || res.challenge["scope"] != "notes:read notes:write" {
		t.Fatalf("%d %v", res.status, res.challenge)
	}
}

// By default the challenge follows the client's MCP revision: a 2026-07-28
// client (SEP-2350) is told what the operation needs, baseline included,
// in the header and in the JSON-RPC error; an earlier one what it holds
// plus that.
func TestChallengeFollowsProtocolRevision(t *testing.T) {
	f := newFixture(t, fixtureOptions{stateless: true})
	tok := f.token("notes:read", "calendar:read")
	for version, want := range map[string]string{
		"2025-06-18": "calendar:read notes:read notes:write",
		"2025-11-25": "calendar:read notes:read notes:write",
		"2026-07-28": "notes:read notes:write",
	} {
		res := post(t, f, tok, call("add_note"), map[string]string{"MCP-Protocol-Version": version})
		if res.status != 403 || res.challenge["scope"] != want || !strings.Contains(res.raw, `"scope":"`+want+`"`) {
			t.Errorf("revision %q: %d %v %s, want scope %q", version, res.status, res.challenge, res.raw, want)
		}
	}
}

func TestBaselineChallengedOn401And403(t *testing.T) {
	f := newFixture(t, fixtureOptions{stateless: true})
	res := post(t, f, "", call("whoami"), nil)
	if res.status != 401 || res.challenge["scope"] != "notes:read" || res.challenge["error"] != "" {
		t.Fatalf("401: %d %v", res.status, res.challenge)
	}
	res = post(t, f, f.token("calendar:read"), call("whoami"), nil)
	if res.status != 403 || res.challenge["scope"] != "calendar:read notes:read" {
		t.Fatalf("403: %d %v", res.status, res.challenge)
	}
}

func TestOperationCheckCannotBeBypassed(t *testing.T) {
	f := newFixture(t, fixtureOptions{stateless: true})
	tok := f.token("notes:read")
	tests := []struct {
		name    string
		body    string
		headers map[string]string
		status  int
	}{
		{"header names a free tool, body the guarded one", call("add_note"), map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "whoami"}, 400},
		{"header says tools/list, body calls a tool", call("add_note"), map[string]string{"Mcp-Method": "tools/list"}, 400},
		{"headers agree with the body", call("add_note"), map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "add_note"}, 403},
		{"duplicate name member", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"add_note"}}`, nil, 400},
		{"name in another letter case", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","Name":"add_note"}}`, nil, 400},
		{"method with a long s (encoding/json folds it)", `{"jsonrpc":"2.0","id":1,"method":"tools/call","paramſ":{"name":"add_note"}}`, nil, 403},
		{"uppercase member names", `{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","PARAMS":{"NAME":"add_note"}}`, nil, 403},
		{"batch with a guarded call", `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},` + call("add_note") + `]`, nil, 403},
		{"oversized batch", `[` + strings.Repeat(`{"jsonrpc":"2.0","method":"notifications/x"},`, 70) + `{}]`, nil, 400},
		{"name not a string", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["add_note"]}}`, nil, 400},
		{"malformed JSON passes to mcp-go, which runs nothing", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note"`, nil, 0},
		{"unknown tool passes through", call("no_such_tool"), nil, 0},
		{"prompt needing a scope the token has", `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"summarize"}}`, nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := post(t, f, tok, tt.body, tt.headers)
			if tt.status != 0 && res.status != tt.status {
				t.Fatalf("status %d, want %d: %s", res.status, tt.status, res.raw)
			}
			if strings.Contains(res.raw, "added") {
				t.Fatalf("the guarded tool ran: %s", res.raw)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t, fixtureOptions{stateless: true, cfg: func(c *auth.Config) { c.MaxBodyBytes = 1024 }})
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note","arguments":{"text":"` + strings.Repeat("a", 2000) + `"}}}`
	if res := post(t, f, f.token("notes:read", "notes:write"), body, nil); res.status != 413 {
		t.Fatalf("oversized body: %d %s", res.status, res.raw)
	}
}

func TestScopesSupportedIncludesAnnotations(t *testing.T) {
	f := newFixture(t, fixtureOptions{stateless: true})
	got := clienttest.ScopesSupported(t, f.a)
	if strings.Join(got, " ") != "admin notes:admin notes:read notes:write" {
		t.Fatalf("scopes_supported = %v", got)
	}
	explicit := newFixture(t, fixtureOptions{stateless: true, cfg: func(c *auth.Config) { c.ScopesSupported = []string{"notes:read"} }})
	if got := clienttest.ScopesSupported(t, explicit.a); strings.Join(got, " ") != "notes:read" {
		t.Fatalf("explicit scopes_supported overridden: %v", got)
	}
}
