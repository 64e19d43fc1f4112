package auth

import "net/http"

// responseWriter watches the response to a request that was allowed:
//   - a session id the MCP server assigns (to initialize, also when the
//     request still carried an old one) is bound to the subject that asked,
//     before the client learns it; when it cannot be bound, the client gets
//     503 instead of an unbound session;
//   - a binding made at first sight by this request is dropped again when
//     the server does not know the session (404) or refuses the request
//     (400), so unknown ids cost no memory;
//   - a session the client ended with DELETE is released;
//   - with a [Trace], the decision is recorded with the status the client
//     received, when the response starts (a stream is recorded as it opens).
//
// Writes, flushes and http.ResponseController pass through, so streamed
// (SSE) responses flow as before.
type responseWriter struct {
	http.ResponseWriter
	a          *Authenticator
	r          *http.Request
	next       http.Handler // the handler holding the sessions
	t          *Token       // nil for an anonymous request (Config.AnonymousDiscovery)
	subject    string       // whose the request's sessions are
	sid        string       // the request's session id, "" for none
	b          *binding     // sid's binding, held for the request
	res        *reservation // a place held for a session this request creates
	created    *binding     // the binding of the session the server created
	orphan     string       // a session the server created that could not be bound
	firstSight bool         // this request bound sid at first sight
	decision   *Decision    // to record, when tracing
	wrote      bool
	dropped    bool // the server's response was replaced
}

func (s *responseWriter) capture(code int) {
	if s.wrote {
		return
	}
	s.wrote = true
	if s.sid != "" && (s.firstSight && (code == http.StatusNotFound || code == http.StatusBadRequest) ||
		s.r.Method == http.MethodDelete && code < 300) {
		s.a.sessions.release(s.sid, s.subject)
	}
	var err error
	created := s.Header().Get("Mcp-Session-Id")
	if created != "" && created != s.sid {
		if err = checkSessionID(created); err == nil {
			s.created, err = s.a.sessions.bind(created, s.subject, s.res, s.a.sessionEnd(s.next, s.r, created, s.t))
			s.res = nil
		}
		if err != nil {
			s.orphan = created
		}
	}
	if err != nil {
		// Never hand out a session that is not bound to its subject: the
		// server's session is ended once its handler returns.
		s.dropped = true
		h := s.Header()
		h.Del("Mcp-Session-Id")
		h.Del("Content-Length")
		h.Del("Content-Type")
		s.a.logReject(s.r, callerOf(s.r, s.t), nil, err)
		s.a.writeError(s.ResponseWriter, s.r, err, nil)
	}
	if d := s.decision; d != nil {
		d.Status = code
		if err != nil {
			e := asError(err)
			d.Allowed, d.Status, d.Reason, d.Explanation = false, e.Reason.Status(), e.Reason, e.Description
		} else if created != "" {
			d.Session = traceSession(created)
		}
		s.a.trace.record(*d)
	}
}

// finish completes the watch once the handler returned: one that did not
// write gets net/http's 200 with the headers it set; the session bindings
// the request held are let go, an unused reservation given back, and a
// session the server created but that could not be bound ended.
func (s *responseWriter) finish() {
	s.capture(http.StatusOK)
	if s.res != nil {
		s.a.sessions.cancel(s.res)
	}
	for _, b := range []*binding{s.b, s.created} {
		if b != nil {
			s.a.sessions.done(b)
		}
	}
	if s.orphan != "" && validSessionID(s.orphan) {
		s.a.sessionEnd(s.next, s.r, s.orphan, s.t)()
	}
}

func (s *responseWriter) WriteHeader(code int) {
	s.capture(code)
	if !s.dropped {
		s.ResponseWriter.WriteHeader(code)
	}
}

func (s *responseWriter) Write(b []byte) (int, error) {
	s.capture(http.StatusOK)
	if s.dropped {
		return len(b), nil
	}
	return s.ResponseWriter.Write(b)
}

// Flush lets streamed (SSE) responses through.
func (s *responseWriter) Flush() {
	s.capture(http.StatusOK)
	if f, ok := s.ResponseWriter.(http.Flusher); ok && !s.dropped {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *responseWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
