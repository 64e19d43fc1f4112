package mcpgo_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
)

func TestDecisionTraceAndMetrics(t *testing.T) {
	trace := auth.NewTrace(3)
	metrics := auth.NewMetrics()
	f := newFixture(t, fixtureOptions{stateless: true, cfg: func(c *auth.Config) { c.Trace, c.Metrics = trace, metrics }})
	readTok := f.token("notes:read")
	post(t, f, readTok, call("whoami"), map[string]string{"X-Request-Id": "r-allowed"})
	post(t, f, readTok, call("add_note"), map[string]string{"X-Request-Id": "r-denied"})
	post(t, f, "", call("whoami"), nil)

	ds := trace.Decisions()
	if len(ds) != 3 {
		t.Fatalf("%d decisions", len(ds))
	}
	missing, denied, allowed := ds[0], ds[1], ds[2] // newest first
	if !allowed.Allowed || allowed.RequestID != "r-allowed" || allowed.MCPMethod != "tools/call" || allowed.MCPName != "whoami" ||
		allowed.Subject != "dev-user" || allowed.Granted != "notes:read" || allowed.Status != 200 || allowed.Token != auth.Fingerprint(readTok) {
		t.Fatalf("allowed decision = %+v", allowed)
	}
	if denied.Allowed || denied.Status != 403 || denied.Reason != auth.ReasonScopeInsufficient || denied.MCPName != "add_note" ||
		denied.Required != "notes:read notes:write" || denied.Explanation == "" {
		t.Fatalf("denied decision = %+v", denied)
	}
	if missing.Reason != auth.ReasonTokenMissing || missing.Status != 401 || missing.RequestID == "" {
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
