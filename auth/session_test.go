package auth_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/scopes"
)

// sessionServer follows the session rules of the Streamable HTTP transport
// that the middleware relies on: initialize without a session id creates
// one and returns it in Mcp-Session-Id; a request with an id the server
// does not know gets 404; DELETE ends a session.
type sessionServer struct {
	mu      sync.Mutex
	known   map[string]bool
	n       int
	reached atomic.Int64
}

func (s *sessionServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.reached.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	sid := r.Header.Get("Mcp-Session-Id")
	switch {
	case sid == "" && r.Method == http.MethodPost:
		s.n++
		sid = fmt.Sprintf("session-%d", s.n)
		s.known[sid] = true
		w.Header().Set("Mcp-Session-Id", sid)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	case !s.known[sid]:
		http.Error(w, "Invalid session ID", http.StatusNotFound)
	case r.Method == http.MethodDelete:
		delete(s.known, sid)
	default:
		fmt.Fprint(w, `{"jsonrpc":"2.0","id":2,"result":{}}`)
	}
}

func newSessionFixture(t *testing.T, mutate func(*auth.Config)) (*testAS, http.Handler, *sessionServer) {
	as := newTestAS(t)
	a := newAuth(t, as, mutate)
	srv := &sessionServer{known: map[string]bool{}}
	known := func(string, string) (scopes.Requirement, bool) { return scopes.Requirement{}, false }
	return as, a.Protect(srv, known), srv
}

func sessionRequest(as *testAS, method, subject, sid string) *http.Request {
	r := bearer(as.mint("rsa-1", claimsWith(as, map[string]any{"sub": subject}), nil))
	r.Method = method
	if sid != "" {
		r.Header.Set("Mcp-Session-Id", sid)
	}
	return r
}

// A session belongs to the subject that created it: another subject's
// token with its id is answered 404 before the MCP server sees it, as if
// the session did not exist; the owner keeps using it.
func TestSessionHijackRefused(t *testing.T) {
	as, h, srv := newSessionFixture(t, nil)
	res := call(t, h, sessionRequest(as, "POST", "alice", ""))
	sid := res.header.Get("Mcp-Session-Id")
	if res.status != 200 || sid == "" {
		t.Fatalf("initialize: %d %q", res.status, sid)
	}
	before := srv.reached.Load()
	if res := call(t, h, sessionRequest(as, "POST", "mallory", sid)); res.status != 404 || res.body["reason"] != "session_mismatch" {
		t.Fatalf("mallory with alice's session: %d %v", res.status, res.body)
	}
	if srv.reached.Load() != before {
		t.Fatal("the hijack attempt reached the MCP server")
	}
	if res := call(t, h, sessionRequest(as, "POST", "alice", sid)); res.status != 200 {
		t.Fatalf("alice with her session: %d", res.status)
	}
}

// Session ids the server does not know cost nothing: the first-sight
// binding is dropped when the server answers 404, so a flood of invented
// ids cannot fill the table and lock real users out.
func TestUnknownSessionIDsAreNotKept(t *testing.T) {
	as, h, _ := newSessionFixture(t, func(c *auth.Config) { c.MaxSessions = 2 })
	for i := range 20 {
		if res := call(t, h, sessionRequest(as, "POST", "mallory", fmt.Sprintf("invented-%d", i))); res.status != 404 {
			t.Fatalf("invented id %d: %d", i, res.status)
		}
	}
	for _, who := range []string{"alice", "bob"} {
		if res := call(t, h, sessionRequest(as, "POST", who, "")); res.status != 200 || res.header.Get("Mcp-Session-Id") == "" {
			t.Fatalf("%s cannot open a session after the flood: %d", who, res.status)
		}
	}
}

// Past the bounds a session is refused with 503, and the id the server
// created is not handed out unbound; DELETE frees a place.
func TestSessionLimitsAndDelete(t *testing.T) {
	as, h, _ := newSessionFixture(t, func(c *auth.Config) { c.MaxSessionsPerSubject = 2 })
	var sids []string
	for range 2 {
		res := call(t, h, sessionRequest(as, "POST", "alice", ""))
		sids = append(sids, res.header.Get("Mcp-Session-Id"))
	}
	res := call(t, h, sessionRequest(as, "POST", "alice", ""))
	if res.status != 503 || res.body["reason"] != "session_limit" || res.header.Get("Mcp-Session-Id") != "" || res.header.Get("Retry-After") == "" {
		t.Fatalf("third session: %d %v %v", res.status, res.body, res.header)
	}
	if res := call(t, h, sessionRequest(as, "DELETE", "alice", sids[0])); res.status != 200 {
		t.Fatalf("DELETE: %d", res.status)
	}
	if res := call(t, h, sessionRequest(as, "POST", "alice", "")); res.status != 200 || res.header.Get("Mcp-Session-Id") == "" {
		t.Fatalf("a session after DELETE freed a place: %d", res.status)
	}
}

func TestMalformedSessionIDs(t *testing.T) {
	as, h, srv := newSessionFixture(t, nil)
	for name, sid := range map[string]string{
		"too long":          strings.Repeat("s", 257),
		"control character": "abc\x01def",
		"space":             "abc def",
		"non-ASCII":         "séance",
	} {
		if res := call(t, h, sessionRequest(as, "POST", "alice", sid)); res.status != 400 || res.body["reason"] != "request_invalid" {
			t.Errorf("%s: %d %v", name, res.status, res.body)
		}
	}
	r := sessionRequest(as, "POST", "alice", "a")
	r.Header.Add("Mcp-Session-Id", "b")
	if res := call(t, h, r); res.status != 400 {
		t.Errorf("two session ids: %d", res.status)
	}
	if srv.reached.Load() != 0 {
		t.Fatal("a malformed session id reached the MCP server")
	}
}

// The body read to find the operations is bounded: a longer one is 413
// before the server sees it.
func TestBodyLimit(t *testing.T) {
	as, h, srv := newSessionFixture(t, func(c *auth.Config) { c.MaxBodyBytes = 64 })
	r := bearer(as.mint("rsa-1", claimsWith(as, nil), nil))
	r.Body = io.NopCloser(strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"t":"` + strings.Repeat("a", 100) + `"}}}`))
	if res := call(t, h, r); res.status != 413 || res.body["reason"] != "request_too_large" || srv.reached.Load() != 0 {
		t.Fatalf("oversized body: %d %v (server reached %d times)", res.status, res.body, srv.reached.Load())
	}
}

func initializeRequest(as *testAS, subject string) *http.Request {
	r := sessionRequest(as, "POST", subject, "")
	r.Body = io.NopCloser(strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func (s *sessionServer) live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.known)
}

// Orphaned sessions: an initialize the session bounds refuse never reaches
// the MCP server, so it creates nothing; and a session the server created
// that still cannot be bound (a request that reserved no place: not an
// initialize the middleware could read) is ended in the server.
func TestRefusedSessionsLeaveNothingInTheServer(t *testing.T) {
	as, h, srv := newSessionFixture(t, func(c *auth.Config) { c.MaxSessionsPerSubject = 2 })
	for range 2 {
		if res := call(t, h, initializeRequest(as, "alice")); res.status != 200 {
			t.Fatalf("initialize: %d", res.status)
		}
	}
	reached := srv.reached.Load()
	for range 50 {
		if res := call(t, h, initializeRequest(as, "alice")); res.status != 503 || res.body["reason"] != "session_limit" {
			t.Fatalf("initialize past the bound: %d %v", res.status, res.body)
		}
	}
	if srv.reached.Load() != reached || srv.live() != 2 {
		t.Fatalf("refused initializes reached the server %d times; it holds %d sessions", srv.reached.Load()-reached, srv.live())
	}
	// A POST that is not an initialize, answered with a new session anyway.
	if res := call(t, h, sessionRequest(as, "POST", "alice", "")); res.status != 503 || res.header.Get("Mcp-Session-Id") != "" {
		t.Fatalf("an unbindable session was handed out: %d %v", res.status, res.header)
	}
	if srv.live() != 2 {
		t.Fatalf("the server holds %d sessions: the one that could not be bound was not ended", srv.live())
	}
}

// One table for everyone: two subjects filling MaxSessions do not lock a
// third out; the heaviest loses its oldest idle session, ended in the
// server too (its owner's next use of it is 404). When every subject holds
// no more than its share, a new session is refused.
func TestFullTableEvictsTheHeaviestSubject(t *testing.T) {
	as, h, srv := newSessionFixture(t, func(c *auth.Config) { c.MaxSessions = 6; c.MaxSessionsPerSubject = 4 })
	var sids []string
	for _, who := range []string{"mallory", "mallory", "mallory", "mallory", "trudy", "trudy"} {
		res := call(t, h, initializeRequest(as, who))
		if res.status != 200 {
			t.Fatalf("%s: %d", who, res.status)
		}
		sids = append(sids, res.header.Get("Mcp-Session-Id"))
	}
	res := call(t, h, initializeRequest(as, "carol"))
	if res.status != 200 || res.header.Get("Mcp-Session-Id") == "" {
		t.Fatalf("carol locked out by a full table: %d %v", res.status, res.body)
	}
	if res := call(t, h, sessionRequest(as, "POST", "mallory", sids[0])); res.status != 404 {
		t.Fatalf("mallory's oldest session was not the one evicted: %d", res.status)
	}
	if res := call(t, h, sessionRequest(as, "POST", "mallory", sids[1])); res.status != 200 {
		t.Fatalf("mallory's second session: %d", res.status)
	}
	if srv.live() != 6 {
		t.Fatalf("the server holds %d sessions, want 6", srv.live())
	}
	// mallory 3, trudy 2, carol 1: dave evicts mallory's oldest idle again;
	// then everyone holds at most two, and eve (who would hold one) is
	// refused only when no one holds more than her share plus one.
	for _, who := range []string{"dave", "erin", "frank"} {
		if res := call(t, h, initializeRequest(as, who)); res.status != 200 {
			t.Fatalf("%s: %d %v", who, res.status, res.body)
		}
	}
	if res := call(t, h, initializeRequest(as, "grace")); res.status != 503 || res.body["reason"] != "session_limit" {
		t.Fatalf("a table shared fairly: %d %v", res.status, res.body)
	}
}

// deepCall is a tools/call whose arguments nest arrays depth deep, padded
// to about size bytes.
func deepCall(depth, size int) string {
	pad := strings.Repeat(" ", max(0, size-2*depth-120))
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":` + strings.Repeat("[", depth) + pad + strings.Repeat("]", depth) + `}}}`
}

// Nesting: a 1 MiB body nested 900 deep is refused before the MCP server
// decodes it (a recursive decoder pays more than linear time for the
// depth); one nested within Config.MaxJSONDepth goes through.
func TestDeepBodiesRefusedBeforeTheServer(t *testing.T) {
	as, h, srv := newSessionFixture(t, nil)
	post := func(body string) result {
		r := bearer(as.mint("rsa-1", claimsWith(as, nil), nil))
		r.Body = io.NopCloser(strings.NewReader(body))
		return call(t, h, r)
	}
	if res := post(deepCall(900, 1<<20)); res.status != 400 || res.body["reason"] != "request_invalid" || srv.reached.Load() != 0 {
		t.Fatalf("a body nested 900 deep: %d %v (server reached %d times)", res.status, res.body, srv.reached.Load())
	}
	if res := post(deepCall(60, 1<<10)); res.status != 200 || srv.reached.Load() != 1 {
		t.Fatalf("a body nested 60 deep (64 allowed with the envelope): %d %v", res.status, res.body)
	}
}
