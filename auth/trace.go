package auth

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpauth/mcpauth/internal/wire"
	"github.com/mcpauth/mcpauth/scopes"
)

// Decision is one authorization decision, as the [Trace] keeps it: the
// request, every JSON-RPC message it carried, who called, what was decided
// and why, and the status the client received. It never holds a token, only
// its fingerprint.
type Decision struct {
	Time       time.Time `json:"time"`
	RequestID  string    `json:"request_id"`
	HTTPMethod string    `json:"http_method"`
	Path       string    `json:"path"`
	// Session is the Mcp-Session-Id the request carried or, for the
	// request that created one, the new id; at most 24 characters of it.
	Session string `json:"session,omitempty"`
	// Protocol is the request's MCP-Protocol-Version.
	Protocol string `json:"protocol_version,omitempty"`
	// Messages are the JSON-RPC requests and notifications of the body, in
	// order (the body is read only when the check knows MCP operations).
	Messages []TracedMessage `json:"messages,omitempty"`
	Token    string          `json:"token,omitempty"` // fingerprint
	Issuer   string          `json:"issuer,omitempty"`
	Subject  string          `json:"subject,omitempty"`
	ClientID string          `json:"client_id,omitempty"`
	Audience []string        `json:"audience,omitempty"`
	Granted  string          `json:"granted,omitempty"`
	Required string          `json:"required,omitempty"`
	// Allowed is the authorization decision; Status is what the client
	// received, which for an allowed request is the MCP server's answer (a
	// 404 for an unknown session, say), and 0 for a request allowed by
	// [Authenticator.Check], whose caller answers it.
	Allowed     bool          `json:"allowed"`
	Status      int           `json:"status"`
	Reason      Reason        `json:"reason,omitempty"`
	Explanation string        `json:"explanation,omitempty"`
	Hints       []scopes.Hint `json:"hints,omitempty"`
}

// TracedMessage is one JSON-RPC request or notification of a traced
// request.
type TracedMessage struct {
	Method string `json:"method"`
	// Name is the tool or prompt name or the resource URI of a tools/call,
	// prompts/get or resources/read, and the cancelled request's id of a
	// notifications/cancelled.
	Name string `json:"name,omitempty"`
	// ID is the JSON-RPC id as sent; "" for a notification.
	ID string `json:"id,omitempty"`
	// Refused marks the operation the decision refused.
	Refused bool `json:"refused,omitempty"`
}

// tracedMessages lists msgs for the trace; failed, when not among them
// (a header-only operation), is listed alone.
func tracedMessages(msgs []wire.Message, failed *wire.Operation) []TracedMessage {
	out := make([]TracedMessage, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		t := TracedMessage{Method: trunc(m.Method), Name: trunc(m.Name), ID: trunc(string(m.ID)), Refused: failed == &m.Operation}
		if m.Cancelled != nil {
			t.Name = "requestId " + trunc(string(m.Cancelled))
		}
		out = append(out, t)
	}
	if failed != nil && len(out) == 0 {
		out = append(out, TracedMessage{Method: trunc(failed.Method), Name: trunc(failed.Name), ID: trunc(string(failed.ID)), Refused: true})
	}
	return out
}

// decisionRecord is an allowed request's decision, waiting for the status
// the client receives.
type decisionRecord struct {
	trace *Trace
	d     Decision
}

// record adds the decision with the status code the client received; err
// is a refusal that replaced the server's answer, created the session the
// server created.
func (rec *decisionRecord) record(code int, err error, created string) {
	d := rec.d
	d.Status = code
	if err != nil {
		e := asError(err)
		d.Allowed, d.Status, d.Reason, d.Explanation = false, e.Reason.Status(), e.Reason, e.Description
	} else if created != "" {
		d.Session = traceSession(created)
	}
	rec.trace.record(d)
}

// traceSession shortens a session id for the trace: enough to tell
// sessions apart, not enough to use one.
func traceSession(sid string) string {
	if len(sid) > 24 {
		return sid[:24] + "..."
	}
	return sid
}

// Trace is a bounded ring buffer of recent decisions, opt-in through
// [Config.Trace], served by its ServeHTTP as JSON or as a small HTML page
// that refreshes itself. Mount it where you choose; unless AllowRemote is
// set, it answers only a loopback connection whose Host names a loopback
// host and whose Origin and Sec-Fetch-Site, when present, are not another
// site's (DNS rebinding and cross-site reads are refused).
type Trace struct {
	// AllowRemote lets non-loopback callers read the trace. The trace holds
	// subjects, client ids and scopes: expose it only behind your own
	// access control.
	AllowRemote bool

	mu   sync.Mutex
	buf  []Decision
	next int
	full bool
	seq  atomic.Uint64
}

// NewTrace returns a Trace keeping the last size decisions (at least 1).
func NewTrace(size int) *Trace {
	return &Trace{buf: make([]Decision, max(size, 1))}
}

// record adds d, dropping the oldest decision when full.
func (t *Trace) record(d Decision) {
	t.mu.Lock()
	t.buf[t.next] = d
	t.next = (t.next + 1) % len(t.buf)
	if t.next == 0 {
		t.full = true
	}
	t.mu.Unlock()
}

// Decisions returns the recorded decisions, newest first.
func (t *Trace) Decisions() []Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.next
	if t.full {
		n = len(t.buf)
	}
	out := make([]Decision, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, t.buf[(t.next-i+len(t.buf))%len(t.buf)])
	}
	return out
}

func (t *Trace) requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 {
		return id
	}
	return "req-" + strconv.FormatUint(t.seq.Add(1), 10)
}

var tracePage = template.Must(template.New("trace").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>mcpauth decisions</title>
<style>body{font-family:system-ui,sans-serif;margin:1rem}table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .4rem;vertical-align:top}.deny{background:#fee}.allow{background:#efe}</style></head>
<body><h1>mcpauth: recent decisions</h1><p>Newest first; refreshes every 2 seconds. <a href="?format=json">JSON</a></p>
<table><tr><th>time</th><th>request</th><th>JSON-RPC messages</th><th>caller</th><th>scopes granted / required</th><th>decision, status received</th><th>explanation</th></tr>
{{range .}}<tr class="{{if .Allowed}}allow{{else}}deny{{end}}"><td>{{.Time.Format "15:04:05.000"}}</td>
<td>{{.RequestID}}<br>{{.HTTPMethod}} {{.Path}}{{if .Session}}<br>session {{.Session}}{{end}}{{if .Protocol}}<br>MCP {{.Protocol}}{{end}}</td>
<td>{{range .Messages}}{{if .Refused}}<b>{{end}}{{.Method}} {{.Name}}{{if .ID}} #{{.ID}}{{end}}{{if .Refused}}</b>{{end}}<br>{{end}}</td>
<td>{{.Subject}}<br>{{.ClientID}}<br>{{.Issuer}}<br>{{.Token}}</td><td>{{.Granted}}<br>{{.Required}}</td>
<td>{{if .Allowed}}allow{{else}}deny{{end}} {{.Status}}<br>{{.Reason}}</td><td>{{.Explanation}}{{range .Hints}}<br>{{.Code}}: {{.Message}}{{end}}</td></tr>
{{end}}</table></body></html>`))

// ServeHTTP serves the decisions: JSON with ?format=json or an Accept of
// application/json, otherwise the HTML page. Non-loopback callers get 403
// unless AllowRemote.
func (t *Trace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !t.AllowRemote {
		if err := checkLoopback(r); err != nil {
			http.Error(w, "the decision trace is served to loopback callers only: "+err.Error(), http.StatusForbidden)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	ds := t.Decisions()
	if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ds)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_ = tracePage.Execute(w, ds)
}
