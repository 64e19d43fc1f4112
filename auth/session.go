package auth

import (
	"net/http"
	"strings"

	gocache "github.com/patrickmn/go-cache"
)

// subjectKey identifies who a session belongs to: a subject is unique only
// within its issuer. The client id is left out on purpose, so a client that
// re-registered and stepped up keeps its user's session.
func subjectKey(t *Token) string { return t.Issuer + "\x00" + t.Subject }

// sessionID returns the MCP session a request belongs to: the Streamable
// HTTP Mcp-Session-Id header, or the sessionId query parameter of the legacy
// SSE transport's message endpoint.
func sessionID(r *http.Request) string {
	if sid := r.Header.Get("Mcp-Session-Id"); sid != "" {
		return sid
	}
	if r.Method == http.MethodPost && strings.Contains(r.URL.RawQuery, "sessionId=") {
		return "sse:" + r.URL.Query().Get("sessionId")
	}
	return ""
}

// bindSession reports whether t may use session sid, binding sid to t's
// subject when it is not bound yet. Each use extends the binding.
func (a *Authenticator) bindSession(sid string, t *Token) bool {
	key := subjectKey(t)
	v, ok := a.sessions.Get(sid)
	if ok && v.(string) != key {
		return false
	}
	if ok || a.sessions.ItemCount() < maxSessions {
		a.sessions.Set(sid, key, gocache.DefaultExpiration)
	}
	return true
}

// sessionCapture binds the session id an MCP server assigns in its response
// (to initialize) to the subject that asked, before any other request can
// present it.
type sessionCapture struct {
	http.ResponseWriter
	a     *Authenticator
	t     *Token
	wrote bool
}

func (s *sessionCapture) capture() {
	if s.wrote {
		return
	}
	s.wrote = true
	if sid := s.Header().Get("Mcp-Session-Id"); sid != "" {
		// A session the server just created is always bound, even past the
		// bound on first-sight bindings.
		s.a.sessions.Set(sid, subjectKey(s.t), gocache.DefaultExpiration)
	}
}

func (s *sessionCapture) WriteHeader(code int) {
	s.capture()
	s.ResponseWriter.WriteHeader(code)
}

func (s *sessionCapture) Write(b []byte) (int, error) {
	s.capture()
	return s.ResponseWriter.Write(b)
}

// Flush lets streamed (SSE) responses through.
func (s *sessionCapture) Flush() {
	s.capture()
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *sessionCapture) Unwrap() http.ResponseWriter { return s.ResponseWriter }
