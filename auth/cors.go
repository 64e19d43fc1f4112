package auth

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CORS lets browser-based MCP clients (MCP Inspector in direct mode, web
// apps on the TypeScript SDK) call an MCP server from another origin. Wrap
// the outermost handler with [CORS.Handler], around [Authenticator.Protect]
// or an SDK adapter's Protect, whichever MCP SDK serves the requests:
//
//	http.Handle("/", auth.CORS{}.Handler(mcpgo.Protect(a, s, transport)))
//
// Preflights (OPTIONS with Access-Control-Request-Method) are answered here,
// without a token and before any SDK, allowing the headers MCP clients send
// (Authorization, Content-Type, Mcp-Session-Id, Mcp-Protocol-Version,
// Mcp-Method, Mcp-Name, Last-Event-ID). Every other response to a request
// with an Origin exposes Mcp-Session-Id, Mcp-Protocol-Version and
// WWW-Authenticate, so a browser client can read its session and the
// challenge of a 401 or 403. No cookies are involved (tokens travel in the
// Authorization header), so credentials are never allowed.
type CORS struct {
	// AllowedOrigins are the origins (scheme://host[:port]) allowed to call
	// the server. Empty means any ("*"): the bearer token, not the origin,
	// is what grants access.
	AllowedOrigins []string
	// MaxAge is how long, in seconds, a browser may cache a preflight
	// answer; zero means 3600.
	MaxAge int
}

// The headers MCP clients send and read.
const (
	corsAllowHeaders  = "Authorization, Content-Type, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID"
	corsExposeHeaders = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"
	corsAllowMethods  = "GET, POST, DELETE, OPTIONS"
)

// Handler returns h with CORS: preflights answered, responses to other
// origins' requests made readable. A request from an origin not allowed
// goes on without CORS headers (the browser then refuses its answer); a
// preflight from one is answered 403.
func (c CORS) Handler(h http.Handler) http.Handler {
	maxAge := "3600"
	if c.MaxAge > 0 {
		maxAge = strconv.Itoa(c.MaxAge)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			h.ServeHTTP(w, r)
			return
		}
		allowed := c.allow(origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		hdr := w.Header()
		if len(c.AllowedOrigins) > 0 {
			hdr.Add("Vary", "Origin")
		}
		if allowed != "" {
			hdr.Set("Access-Control-Allow-Origin", allowed)
		}
		if !preflight {
			if allowed != "" {
				hdr.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			}
			h.ServeHTTP(w, r)
			return
		}
		if allowed == "" {
			http.Error(w, "forbidden: origin not allowed", http.StatusForbidden)
			return
		}
		hdr.Set("Access-Control-Allow-Methods", corsAllowMethods)
		hdr.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		hdr.Set("Access-Control-Max-Age", maxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}

// allow returns the Access-Control-Allow-Origin value for origin, or "".
func (c CORS) allow(origin string) string {
	if len(c.AllowedOrigins) == 0 {
		return "*"
	}
	if slices.ContainsFunc(c.AllowedOrigins, func(o string) bool { return strings.EqualFold(strings.TrimSuffix(o, "/"), origin) }) {
		return origin
	}
	return ""
}
