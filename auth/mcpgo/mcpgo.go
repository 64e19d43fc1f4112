package mcpgo

import (
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/kit"
)

// Protect returns h (mcp-go's StreamableHTTPServer or SSEServer) protected by
// a: metadata, token validation, the per-operation scope check of
// [auth.Authenticator.Protect] with the requirements annotated on s, and
// session binding. The annotated scopes are added to the metadata's
// scopes_supported unless it was set explicitly. Build s with
// [ServerOptions], whose dispatch gate also checks what only a session can
// see; without it, operations the HTTP check cannot resolve are refused.
func Protect(a *auth.Authenticator, s *server.MCPServer, h http.Handler) http.Handler {
	var all []string
	for _, t := range s.ListTools() {
		all = appendScopes(all, t.Tool.Meta)
	}
	if tools, err := listTools(internalCtx, s); err == nil {
		for _, t := range tools {
			all = appendScopes(all, t.Meta)
		}
	}
	for _, p := range s.ListPrompts() {
		all = appendScopes(all, p.Prompt.Meta)
	}
	for _, r := range s.ListResources() {
		all = appendScopes(all, r.Resource.Meta)
	}
	if ts, err := listTemplates(internalCtx, s); err == nil {
		for _, t := range ts {
			all = appendScopes(all, t.Meta)
		}
	}
	kit.AdvertiseScopes(a, all...)
	if hooks := s.GetHooks(); hooks != nil && !hasGate(s) {
		hooks.AddOnRequestInitialization(Gate(a)) // own hooks replaced those of ServerOptions
	}
	return a.Protect(h, Lookup(s))
}

func appendScopes(dst []string, meta *mcp.Meta) []string {
	if req, ok := RequirementOf(meta); ok {
		dst = append(dst, req.Scopes().Slice()...)
	}
	return dst
}

// TransportOptions returns the options for mcp-go's StreamableHTTPServer
// that keep it in step with a: sessions idle out when their binding to a
// subject does ([auth.Config.SessionIdleTimeout]).
func TransportOptions(a *auth.Authenticator) []server.StreamableHTTPOption {
	return []server.StreamableHTTPOption{server.WithSessionIdleTTL(kit.SessionIdleTimeout(a))}
}
