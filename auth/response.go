package auth

import "net/http"

// responseWriter watches the response to a request that was allowed, and
// tells two small parts when it starts: the sessionWatch (session.go),
// which binds a session the MCP server creates before the client learns
// it, and the decision record of the trace, which keeps the status the
// client received (a stream is recorded as it opens). When the session
// cannot be bound, refuse answers instead of the server: the client gets
// 503, never an unbound session. Writes, flushes and
// http.ResponseController pass through, so streamed (SSE) responses flow
// as before.
type responseWriter struct {
	http.ResponseWriter
	watch   sessionWatch    // idle (no table) for a request that can neither end nor create a session
	rec     *decisionRecord // nil without a trace
	late    lateRefuser     // logs and answers a refusal that replaces the server's answer
	wrote   bool
	dropped bool // the server's response was replaced
}

// lateRefuser answers a refusal decided after the handler started to
// answer (a session that cannot be bound): logged, then written to w.
type lateRefuser interface {
	refuseLate(w http.ResponseWriter, r *http.Request, t *Token, err error)
}

func (s *responseWriter) capture(code int) {
	if s.wrote {
		return
	}
	s.wrote = true
	var (
		err     error
		created string
	)
	if s.watch.sessions != nil {
		created, err = s.watch.started(s.Header(), code)
	}
	if err != nil {
		s.dropped = true
		h := s.Header()
		h.Del("Mcp-Session-Id")
		h.Del("Content-Length")
		h.Del("Content-Type")
		s.late.refuseLate(s.ResponseWriter, s.watch.r, s.watch.t, err) // only the watch refuses late
	}
	if s.rec != nil {
		s.rec.record(code, err, created)
	}
}

// finish completes the watch once the handler returned: one that did not
// write gets net/http's 200 with the headers it set.
func (s *responseWriter) finish() {
	s.capture(http.StatusOK)
	if s.watch.sessions != nil {
		s.watch.finish()
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
