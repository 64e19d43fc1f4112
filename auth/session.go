package auth

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcpauth/mcpauth/internal/cache"
)

// maxSessionIDBytes is the longest Mcp-Session-Id (or legacy SSE sessionId)
// accepted. Session ids are visible ASCII (0x21-0x7E) per the Streamable
// HTTP transport; a longer or otherwise malformed one is refused with 400
// before anything is stored. SDKs mint ids of 26 to 48 characters.
const maxSessionIDBytes = 256

// subjectKey identifies who a session belongs to: a subject is unique only
// within its issuer. The client id is left out on purpose, so a client that
// re-registered and stepped up keeps its user's session.
func subjectKey(t *Token) string { return t.Issuer + "\x00" + t.Subject }

// sessionID returns the MCP session a request belongs to: the Streamable
// HTTP Mcp-Session-Id header, or the sessionId query parameter of the legacy
// SSE transport's message endpoint. It refuses an id that is too long or not
// visible ASCII, and two Mcp-Session-Id headers.
func sessionID(r *http.Request) (string, error) {
	sid := ""
	switch vs := r.Header.Values("Mcp-Session-Id"); {
	case len(vs) > 1:
		return "", fail(ReasonRequestInvalid, "%d Mcp-Session-Id headers; send at most one", len(vs))
	case len(vs) == 1:
		sid = vs[0]
	case r.Method == http.MethodPost && strings.Contains(r.URL.RawQuery, "sessionId="):
		sid = r.URL.Query().Get("sessionId")
		if sid == "" {
			return "", nil
		}
		if err := checkSessionID(sid); err != nil {
			return "", err
		}
		return "sse:" + sid, nil
	default:
		return "", nil
	}
	return sid, checkSessionID(sid)
}

func checkSessionID(sid string) error {
	if len(sid) > maxSessionIDBytes {
		return fail(ReasonRequestInvalid, "the session id is %d bytes; at most %d are accepted", len(sid), maxSessionIDBytes)
	}
	for i := 0; i < len(sid); i++ {
		if c := sid[i]; c < 0x21 || c > 0x7e {
			return fail(ReasonRequestInvalid, "the session id has a byte 0x%02x outside visible ASCII (0x21-0x7E)", c)
		}
	}
	if sid == "" {
		return fail(ReasonRequestInvalid, "the session id is empty")
	}
	return nil
}

// sessionTable binds MCP session ids to the subject that created them. It
// holds at most max bindings, at most perSubject of them for one subject,
// each expiring after ttl without use; ids are at most maxSessionIDBytes and
// the bindings are bounded in bytes too. A full table refuses new sessions
// (503) rather than leave one unbound.
type sessionTable struct {
	mu         sync.Mutex // makes each bind's look-check-store one step
	bindings   *cache.Cache[string, *owner]
	subjects   map[string]*owner // the owners of bindings; at most one per binding
	perSubject int
	ttl        time.Duration
}

// owner is one subject with bindings; its key is shared by all of them.
type owner struct {
	key string
	n   int
}

// bindingOverhead approximates what a binding costs beyond its id and
// subject key, for the byte bound.
const bindingOverhead = 96

func newSessionTable(max, perSubject int, ttl time.Duration, now func() time.Time) *sessionTable {
	st := &sessionTable{subjects: map[string]*owner{}, perSubject: perSubject, ttl: ttl}
	st.bindings = cache.New(cache.Options[string, *owner]{
		MaxEntries: max,
		MaxBytes:   int64(max) * (maxSessionIDBytes + 2*bindingOverhead),
		Now:        now,
		OnRemove: func(_ string, o *owner) { // with st.mu held: every cache call is made under it
			if o.n--; o.n == 0 {
				delete(st.subjects, o.key)
			}
		},
	})
	return st
}

// bind reports whether subject may use sid, binding a free sid to it
// (created true); each use extends the binding. It fails with
// [ReasonSessionMismatch] for another subject's session and
// [ReasonSessionLimit] when no binding can be added.
func (st *sessionTable) bind(sid, subject string) (created bool, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	size := int64(len(sid) + len(subject) + bindingOverhead)
	if o, ok := st.bindings.Get(sid); ok {
		if o.key != subject {
			return false, fail(ReasonSessionMismatch, "unknown session")
		}
		st.bindings.Set(sid, o, size, st.ttl) // replacing needs no room
		return false, nil
	}
	o := st.subjects[subject]
	if o != nil && o.n >= st.perSubject {
		return false, fail(ReasonSessionLimit, "this subject already holds %d sessions, the most allowed (Config.MaxSessionsPerSubject); close some (HTTP DELETE) or wait for them to idle out", o.n)
	}
	if o == nil {
		o = &owner{key: subject}
	}
	if !st.bindings.Set(sid, o, size, st.ttl) {
		return false, fail(ReasonSessionLimit, "%d sessions are bound and there is no room for another (Config.MaxSessions)", st.bindings.Len())
	}
	if o.n++; o.n == 1 {
		st.subjects[subject] = o
	}
	return true, nil
}

// release removes sid's binding if subject holds it.
func (st *sessionTable) release(sid, subject string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if o, ok := st.bindings.Get(sid); ok && o.key == subject {
		st.bindings.Delete(sid)
	}
}

// sweep drops expired bindings.
func (st *sessionTable) sweep() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.bindings.Sweep()
}
