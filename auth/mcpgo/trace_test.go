package mcpgo_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/expvarmetrics"
)

func TestDecisionTraceAndMetrics(t *testing.T) {
	trace := auth.NewTrace(3)
	metrics := expvarmetrics.New()
	f := newFixture(t, fixtureOptions{stateless: true, cfg: func(c *auth.Config) { c.Trace, c.Observer = trace, metrics }})
	readTok := f.token("notes:read")
	post(t, f, readTok, call("whoami"), map[string]string{"X-Request-Id": "r-allowed"})
	post(t, f, readTok, call("add_note"), map[string]string{"X-Request-Id": "r-denied"})
	post(t, f, "", call("whoami"), nil)

	ds := trace.Decisions()
	if len(ds) != 3 {
		t.Fatalf("%d decisions", len(ds))
	}
	missing, denied, allowed := ds[0], ds[1], ds[2] // newest first
	if !allowed.Allowed || allowed.RequestID != "r-allowed" || len(allowed.Messages) != 1 || allowed.Messages[0] != (auth.TracedMessage{Method: "tools/call", Name: "whoami", ID: "7"}) ||
		allowed.Subject != "dev-user" || allowed.Granted != "notes:read" || allowed.Status != 200 || allowed.Token != auth.NewToken(readTok, nil).Fingerprint() {
		t.Fatalf("allowed decision = %+v", allowed)
	}
	if denied.Allowed || denied.Status != 403 || denied.Reason != auth.ReasonScopeInsufficient || len(denied.Messages) != 1 || !denied.Messages[0].Refused || denied.Messages[0].Name != "add_note" ||
		denied.Required != "notes:read notes:write" || denied.Explanation == "" {
		t.Fatalf("denied decision = %+v", denied)
	}
	if missing.Reason != auth.ReasonTokenMissing || missing.Status != 401 || missing.RequestID == "" || len(missing.Messages) != 1 || missing.Messages[0].Name != "whoami" {
		t.Fatalf("missing-token decision = %+v", missing)
	}

	// The ring keeps the last 3.
	post(t, f, readTok, call("list_notes"), map[string]string{"X-Request-Id": "r-4"})
	if ds := trace.Decisions(); len(ds) != 3 || ds[0].RequestID != "r-4" || ds[2].RequestID != "r-denied" {
		t.Fatalf("ring buffer: %+v", ds)
	}

	// Served as JSON and HTML to loopback, never with the token.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://127.0.0.1:8080/debug/auth?format=json", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	trace.ServeHTTP(rec, req)
	var got []auth.Decision
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil || len(got) != 3 || strings.Contains(rec.Body.String(), readTok[len(readTok)-20:]) {
		t.Fatalf("JSON trace: %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "http://localhost:8080/debug/auth", nil)
	req.RemoteAddr = "[::1]:5555"
	trace.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `http-equiv="refresh"`) || !strings.Contains(rec.Body.String(), "add_note") {
		t.Fatalf("HTML trace: %s", rec.Body.String())
	}
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/debug/auth", nil)
	req.RemoteAddr = "192.0.2.7:5555"
	trace.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("remote caller got %d", rec.Code)
	}

	if got := metrics.Decisions.Get("allowed").String(); got != "2" {
		t.Fatalf("allowed = %s", got)
	}
	if metrics.Decisions.Get("scope_insufficient").String() != "1" || metrics.Decisions.Get("token_missing").String() != "1" {
		t.Fatalf("decisions = %s", metrics.Decisions.String())
	}
	if metrics.Latency.Get("count").String() != "3" || metrics.Latency.Get("le_inf").String() != "3" {
		t.Fatalf("latency = %s", metrics.Latency.String())
	}
	rec = httptest.NewRecorder()
	remote := httptest.NewRequest("GET", "/", nil)
	remote.RemoteAddr = "192.0.2.7:5555"
	auth.LoopbackOnly(metrics).ServeHTTP(rec, remote)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("metrics served to a remote caller: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	auth.LoopbackOnly(metrics).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil)) // httptest's RemoteAddr is 192.0.2.1
	if rec.Code != http.StatusForbidden {
		t.Fatalf("httptest default remote address served: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	var m map[string]map[string]any
	if json.Unmarshal(rec.Body.Bytes(), &m) != nil || m["decisions"]["allowed"] != 2.0 {
		t.Fatalf("metrics JSON: %s", rec.Body.String())
	}
}

// The trace reads as the session went: every message of every request,
// guarded or not, with its id, and the status the client received, which
// for an allowed request is the MCP server's (here 400 for a call without
// the session mcp-go requires, which the authorization decision allowed).
func TestTraceShowsWholeSessionAndReceivedStatus(t *testing.T) {
	trace := auth.NewTrace(20)
	f := newFixture(t, fixtureOptions{cfg: func(c *auth.Config) { c.Trace = trace }})
	tok := f.token("notes:read")
	post(t, f, "", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, nil)
	init := post(t, f, tok, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, nil)
	sid := init.header.Get("Mcp-Session-Id")
	if init.status != 200 || sid == "" {
		t.Fatalf("initialize: %d %s", init.status, init.raw)
	}
	inSession := map[string]string{"Mcp-Session-Id": sid}
	post(t, f, tok, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, inSession)
	post(t, f, tok, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, inSession)
	post(t, f, tok, `{"jsonrpc":"2.0","id":"c-3","method":"tools/call","params":{"name":"whoami"}}`, inSession)
	post(t, f, tok, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"c-3"}}`, inSession)
	post(t, f, tok, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"add_note","arguments":{"text":"x"}}}`, inSession)
	noSession := post(t, f, tok, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"whoami"}}`, nil)

	type row struct {
		allowed bool
		status  int
		msg     auth.TracedMessage
		session bool
	}
	want := []row{
		{false, 401, auth.TracedMessage{Method: "initialize", ID: "0"}, false},
		{true, 200, auth.TracedMessage{Method: "initialize", ID: "1"}, true}, // the id mcp-go created
		{true, 202, auth.TracedMessage{Method: "notifications/initialized"}, true},
		{true, 200, auth.TracedMessage{Method: "tools/list", ID: "2"}, true},
		{true, 200, auth.TracedMessage{Method: "tools/call", Name: "whoami", ID: `"c-3"`}, true},
		{true, 202, auth.TracedMessage{Method: "notifications/cancelled", Name: `requestId "c-3"`}, true},
		{false, 403, auth.TracedMessage{Method: "tools/call", Name: "add_note", ID: "4", Refused: true}, true},
		{true, noSession.status, auth.TracedMessage{Method: "tools/call", Name: "whoami", ID: "5"}, false},
	}
	if noSession.status < 400 {
		t.Fatalf("mcp-go accepted a call without its session: %d %s", noSession.status, noSession.raw)
	}
	ds := trace.Decisions()
	slices.Reverse(ds)
	if len(ds) != len(want) {
		t.Fatalf("%d decisions, want %d: %+v", len(ds), len(want), ds)
	}
	for i, w := range want {
		d := ds[i]
		if d.Allowed != w.allowed || d.Status != w.status || len(d.Messages) != 1 || d.Messages[0] != w.msg || (d.Session != "") != w.session || d.Protocol != "2025-11-25" {
			t.Errorf("decision %d = allowed %v, status %d, messages %+v, session %q, protocol %q; want %+v", i, d.Allowed, d.Status, d.Messages, d.Session, d.Protocol, w)
		}
		if w.session && !strings.HasPrefix(sid, strings.TrimSuffix(d.Session, "...")) {
			t.Errorf("decision %d: session %q is not the one mcp-go created (%q)", i, d.Session, sid)
		}
	}
}
