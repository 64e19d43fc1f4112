package auth

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxSessionIDBytes is the longest Mcp-Session-Id (or legacy SSE sessionId)
// accepted. Session ids are visible ASCII (0x21-0x7E) per the Streamable
// HTTP transport; a longer or otherwise malformed one is refused with 400
// before anything is stored. SDKs mint ids of 26 to 48 characters.
const maxSessionIDBytes = 256

// subjectKey identifies who a session belongs to: a subject is unique only
// within its issuer. The client id is left out on purpose, so a client that
// re-registered and stepped up keeps its user's session.
func subjectKey(t *Token) string {
	if t.subject != "" {
		return t.subject
	}
	return t.Issuer + "\x00" + t.Subject
}

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

// validSessionID reports whether sid is a well-formed session id.
func validSessionID(sid string) bool { return checkSessionID(sid) == nil }

// sessionEnder returns what ends the session sid in next, the handler that
// holds it: the DELETE the client would send, with t (its expiry moved on,
// so an SDK that checks it again accepts it) in the context. Legacy SSE
// sessions have no such request: nil.
func sessionEnder(next http.Handler, r *http.Request, sid string, t *Token, now func() time.Time) func() {
	if strings.HasPrefix(sid, "sse:") || next == nil {
		return nil
	}
	target := *r.URL
	target.RawQuery = ""
	host := r.Host
	return func() {
		ctx := context.Background()
		if t != nil { // none for a session opened without a token
			ended := &Token{Subject: t.Subject, Issuer: t.Issuer, ClientID: t.ClientID, Audience: t.Audience, Scopes: t.Scopes,
				Expiry: now().Add(time.Minute), IssuedAt: t.IssuedAt, ID: t.ID, Introspected: t.Introspected, claims: t.claims, raw: t.raw}
			ctx = ContextWithToken(ctx, ended)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, target.String(), nil)
		if err != nil {
			return
		}
		req.Host = host
		req.Header.Set("Mcp-Session-Id", sid)
		if t != nil {
			req.Header.Set("Authorization", "Bearer mcpauth-session-end")
		}
		next.ServeHTTP(discardWriter{h: http.Header{}}, req)
	}
}

// sessionWatch is the session side of one allowed request's response, told
// by the responseWriter when the response starts and when the handler
// returned:
//   - a session id the MCP server assigns (to initialize, also when the
//     request still carried an old one) is bound to the subject that asked,
//     before the client learns it; when it cannot be bound, started says
//     why, and the session is ended once the handler returns;
//   - a binding made at first sight by this request is dropped again when
//     the server does not know the session (404) or refuses the request
//     (400), so unknown ids cost no memory;
//   - a session the client ended with DELETE is released;
//   - at the end, the bindings the request held are let go and an unused
//     reservation given back.
type sessionWatch struct {
	sessions   *sessionTable
	subject    string       // whose the request's sessions are
	sid        string       // the request's session id, "" for none
	method     string       // the request's HTTP method
	b          *binding     // sid's binding, held for the request
	res        *reservation // a place held for a session this request creates
	firstSight bool         // this request bound sid at first sight
	// What ends a session in the MCP server: the handler holding it, the
	// request and its token (see sessionEnder).
	next http.Handler
	r    *http.Request
	t    *Token
	now  func() time.Time

	created *binding // the binding of the session the server created
	orphan  string   // a session the server created that could not be bound
}

// end returns what ends the session sid in the MCP server.
func (w *sessionWatch) end(sid string) func() { return sessionEnder(w.next, w.r, sid, w.t, w.now) }

// started sees the response start with code and headers h: it returns the
// session id the server created, if any, and an error when it cannot be
// bound (the response must then be replaced by a refusal).
func (w *sessionWatch) started(h http.Header, code int) (created string, err error) {
	if w.sid != "" && (w.firstSight && (code == http.StatusNotFound || code == http.StatusBadRequest) ||
		w.method == http.MethodDelete && code < 300) {
		w.sessions.release(w.sid, w.subject)
	}
	created = h.Get("Mcp-Session-Id")
	if created == "" || created == w.sid {
		return "", nil
	}
	if err = checkSessionID(created); err == nil {
		w.created, err = w.sessions.bind(created, w.subject, w.res, w.end(created))
		w.res = nil
	}
	if err != nil {
		w.orphan = created
		return "", err
	}
	return created, nil
}

// finish lets go of what the request held, and ends a session the server
// created but that could not be bound.
func (w *sessionWatch) finish() {
	if w.res != nil {
		w.sessions.cancel(w.res)
	}
	for _, b := range []*binding{w.b, w.created} {
		if b != nil {
			w.sessions.done(b)
		}
	}
	if w.orphan != "" && validSessionID(w.orphan) {
		if end := w.end(w.orphan); end != nil {
			end()
		}
	}
}

// discardWriter is the response of a request mcpauth makes itself.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// sessionTable binds MCP session ids to the subject that created them, and
// keeps each binding exactly as long as the MCP server's session:
//   - a session is reserved before the SDK creates it (an initialize
//     request), so a subject or a table that is full is refused before the
//     SDK holds anything, and the binding made when the SDK names the id
//     cannot fail;
//   - a binding with a request in flight (an open stream) never idles out;
//     one idle for ttl is dropped and the SDK's session ended with it (a
//     DELETE through the handler that created it), so no session lives on
//     unbound for another subject to claim;
//   - when the table is full, a subject holding more sessions than the one
//     asking loses its oldest idle session (ended in the SDK too), so a few
//     subjects cannot lock everyone else out; a subject at its own bound
//     (perSubject) is refused.
//
// It holds at most max bindings and reservations, perSubject of them for
// one subject; ids are at most maxSessionIDBytes, so its bytes are bounded
// too. Finding whom to evict costs O(perSubject), whatever the table holds.
type sessionTable struct {
	mu         sync.Mutex
	max        int
	perSubject int
	ttl        time.Duration
	now        func() time.Time
	bindings   map[string]*binding
	subjects   map[string]*owner
	reserved   int                   // reservations not yet bound, all subjects
	byCount    []map[*owner]struct{} // owners by count(), 1..perSubject
}

// owner is one subject with bindings or reservations.
type owner struct {
	key      string
	sessions map[string]*binding
	reserved int
}

func (o *owner) count() int { return len(o.sessions) + o.reserved }

// binding is one session bound to its owner.
type binding struct {
	sid      string
	owner    *owner
	inflight int       // requests of the session being served
	lastUse  time.Time // when the last of them ended
	ending   bool      // dropped, its SDK session being ended: nobody may use it
	end      func()    // ends the SDK's session; nil when unknown
}

// reservation is a place held for a session the SDK is about to create.
type reservation struct{ o *owner }

func newSessionTable(max, perSubject int, ttl time.Duration, now func() time.Time) *sessionTable {
	st := &sessionTable{max: max, perSubject: perSubject, ttl: ttl, now: now, bindings: map[string]*binding{}, subjects: map[string]*owner{},
		byCount: make([]map[*owner]struct{}, perSubject+1)}
	for i := range st.byCount {
		st.byCount[i] = map[*owner]struct{}{}
	}
	return st
}

// counted moves o to its place in byCount after its count changed from
// before, and forgets an owner left with nothing.
func (st *sessionTable) counted(o *owner, before int) {
	delete(st.byCount[min(before, st.perSubject)], o)
	n := o.count()
	if n == 0 {
		delete(st.subjects, o.key)
		return
	}
	st.subjects[o.key] = o
	st.byCount[min(n, st.perSubject)][o] = struct{}{}
}

func (st *sessionTable) ownerOf(subject string) *owner {
	o := st.subjects[subject]
	if o == nil {
		o = &owner{key: subject, sessions: map[string]*binding{}}
		st.subjects[subject] = o
	}
	return o
}

// room makes room for one more session of o, evicting another subject's
// oldest idle session when the table is full and that subject holds more
// than o would. It returns the evicted binding's end, to call without the
// lock.
func (st *sessionTable) room(o *owner) (func(), error) {
	if o.count() >= st.perSubject {
		return nil, fail(ReasonSessionLimit, "this subject already holds %d sessions, the most allowed (Config.MaxSessionsPerSubject); close some (HTTP DELETE) or wait for them to idle out", o.count())
	}
	if len(st.bindings)+st.reserved < st.max {
		return nil, nil
	}
	for c := st.perSubject; c > o.count()+1; c-- {
		for h := range st.byCount[c] {
			if b := h.oldestIdle(); b != nil {
				return st.drop(b), nil
			}
		}
	}
	return nil, fail(ReasonSessionLimit, "%d sessions are bound and no subject holds more than its share (Config.MaxSessions)", len(st.bindings))
}

// oldestIdle is o's least recently used binding with no request in flight.
func (o *owner) oldestIdle() *binding {
	var old *binding
	for _, b := range o.sessions {
		if b.inflight == 0 && !b.ending && (old == nil || b.lastUse.Before(old.lastUse)) {
			old = b
		}
	}
	return old
}

// drop removes b from its owner's count and marks it ending; it stays in
// bindings, refusing every use, until the returned func has ended the
// SDK's session and removed it.
func (st *sessionTable) drop(b *binding) func() {
	before := b.owner.count()
	delete(b.owner.sessions, b.sid)
	st.counted(b.owner, before)
	b.ending = true
	return func() {
		if b.end != nil {
			b.end()
		}
		st.mu.Lock()
		if st.bindings[b.sid] == b {
			delete(st.bindings, b.sid)
		}
		st.mu.Unlock()
	}
}

// reserve holds a place for a session subject is about to create.
func (st *sessionTable) reserve(subject string) (*reservation, error) {
	st.mu.Lock()
	o := st.ownerOf(subject)
	before := o.count()
	evicted, err := st.room(o)
	if err == nil {
		o.reserved++
		st.reserved++
	}
	st.counted(o, before)
	st.mu.Unlock()
	if evicted != nil {
		evicted()
	}
	if err != nil {
		return nil, err
	}
	return &reservation{o: o}, nil
}

// cancel gives back a reservation no session was bound with.
func (st *sessionTable) cancel(res *reservation) {
	st.mu.Lock()
	defer st.mu.Unlock()
	before := res.o.count()
	res.o.reserved--
	st.reserved--
	st.counted(res.o, before)
}

// use holds sid's binding for one request of subject, which must call
// done with it; nil when sid is not bound. Another subject's session, or
// one being ended, is [ReasonSessionMismatch].
func (st *sessionTable) use(sid, subject string) (*binding, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	b := st.bindings[sid]
	if b == nil {
		return nil, nil
	}
	if b.ending {
		return nil, fail(ReasonSessionMismatch, "unknown session")
	}
	if b.owner.key != subject {
		// A session opened without a token (Config.AnonymousDiscovery)
		// becomes the subject's at its first request with one; nothing else
		// changes hands.
		if !isAnonymous(b.owner.key) || isAnonymous(subject) {
			return nil, fail(ReasonSessionMismatch, "unknown session")
		}
		if err := st.claim(b, subject); err != nil {
			return nil, err
		}
	}
	b.inflight++
	return b, nil
}

// claim moves b to subject, within subject's own bound.
func (st *sessionTable) claim(b *binding, subject string) error {
	o := st.ownerOf(subject)
	if o.count() >= st.perSubject {
		st.counted(o, o.count())
		return fail(ReasonSessionLimit, "this subject already holds %d sessions, the most allowed (Config.MaxSessionsPerSubject); close some (HTTP DELETE) or wait for them to idle out", o.count())
	}
	from := b.owner
	before := from.count()
	delete(from.sessions, b.sid)
	st.counted(from, before)
	before = o.count()
	o.sessions[b.sid] = b
	b.owner = o
	st.counted(o, before)
	return nil
}

// bind binds the unbound session sid to subject, held for one request that
// must call done with it: through res when the request reserved a place,
// else within the bounds (evicting as room does). end, when not nil, ends
// the SDK's session.
func (st *sessionTable) bind(sid, subject string, res *reservation, end func()) (*binding, error) {
	st.mu.Lock()
	if b := st.bindings[sid]; b != nil { // bound meanwhile
		st.mu.Unlock()
		if res != nil {
			st.cancel(res)
		}
		return st.use(sid, subject)
	}
	var o *owner
	var evicted func()
	var err error
	if res != nil {
		o = res.o
		before := o.count()
		o.reserved--
		st.reserved--
		st.counted(o, before)
	} else {
		o = st.ownerOf(subject)
		before := o.count()
		evicted, err = st.room(o)
		st.counted(o, before)
	}
	var b *binding
	if err == nil {
		before := o.count()
		b = &binding{sid: sid, owner: o, inflight: 1, lastUse: st.now(), end: end}
		st.bindings[sid] = b
		o.sessions[sid] = b
		st.counted(o, before)
	}
	st.mu.Unlock()
	if evicted != nil {
		evicted()
	}
	return b, err
}

// done ends one request of b.
func (st *sessionTable) done(b *binding) {
	st.mu.Lock()
	defer st.mu.Unlock()
	b.inflight--
	b.lastUse = st.now()
}

// release removes sid's binding if subject holds it: the client ended the
// session (DELETE), or the SDK did not know it.
func (st *sessionTable) release(sid, subject string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if b := st.bindings[sid]; b != nil && !b.ending && b.owner.key == subject {
		before := b.owner.count()
		delete(b.owner.sessions, sid)
		delete(st.bindings, sid)
		st.counted(b.owner, before)
	}
}

// sweep drops the bindings idle for ttl and ends their SDK sessions.
func (st *sessionTable) sweep() {
	st.mu.Lock()
	now := st.now()
	var ends []func()
	for _, b := range st.bindings {
		if !b.ending && b.inflight == 0 && now.Sub(b.lastUse) >= st.ttl {
			ends = append(ends, st.drop(b))
		}
	}
	st.mu.Unlock()
	for _, end := range ends {
		end()
	}
}
