package mcpgo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/scopes"
)

// MetaKey is the _meta key under which a requirement is published: a JSON
// array of paths, any of which suffices, each an array of scopes all needed.
const MetaKey = "io.mcpauth/requiredScopes"

// requirement is the _meta value: it encodes as the documented JSON and
// keeps the compiled requirement for lookups that do not allocate.
type requirement struct{ req scopes.Requirement }

func (r requirement) MarshalJSON() ([]byte, error) {
	paths := r.req.Paths()
	out := make([][]string, len(paths))
	for i, p := range paths {
		out[i] = p.Slice()
	}
	return json.Marshal(out)
}

func setMeta(m **mcp.Meta, req scopes.Requirement) {
	if *m == nil {
		*m = &mcp.Meta{}
	}
	if (*m).AdditionalFields == nil {
		(*m).AdditionalFields = map[string]any{}
	}
	(*m).AdditionalFields[MetaKey] = requirement{req}
}

// RequirementOf returns the requirement stored in meta, if any. It reads both
// the value the options of this package store and its decoded JSON form.
func RequirementOf(meta *mcp.Meta) (scopes.Requirement, bool) {
	if meta == nil {
		return scopes.Requirement{}, false
	}
	switch v := meta.AdditionalFields[MetaKey].(type) {
	case requirement:
		return v.req, true
	case []any:
		var reqs []scopes.Requirement
		for _, p := range v {
			path, ok := p.([]any)
			if !ok {
				return scopes.Requirement{}, false
			}
			var names []string
			for _, s := range path {
				name, ok := s.(string)
				if !ok || !scopes.ValidToken(name) {
					return scopes.Requirement{}, false
				}
				names = append(names, name)
			}
			reqs = append(reqs, scopes.All(names...))
		}
		return scopes.AnyOf(reqs...), true
	}
	return scopes.Requirement{}, false
}

// RequireScopes declares that a tool needs all of the given scopes.
func RequireScopes(s ...string) mcp.ToolOption { return Require(scopes.All(s...)) }

// Require declares that a tool needs req, e.g.
// scopes.AnyOf(scopes.All("admin"), scopes.All("notes:read", "notes:write")).
func Require(req scopes.Requirement) mcp.ToolOption {
	return func(t *mcp.Tool) { setMeta(&t.Meta, req) }
}

// RequirePromptScopes declares that a prompt needs all of the given scopes.
func RequirePromptScopes(s ...string) mcp.PromptOption { return RequirePrompt(scopes.All(s...)) }

// RequirePrompt declares that a prompt needs req.
func RequirePrompt(req scopes.Requirement) mcp.PromptOption {
	return func(p *mcp.Prompt) { setMeta(&p.Meta, req) }
}

// RequireResourceScopes declares that a resource needs all of the given scopes.
func RequireResourceScopes(s ...string) mcp.ResourceOption { return RequireResource(scopes.All(s...)) }

// RequireResource declares that a resource needs req.
func RequireResource(req scopes.Requirement) mcp.ResourceOption {
	return func(r *mcp.Resource) { setMeta(&r.Meta, req) }
}

// RequireTemplateScopes publishes that reads through a resource template
// need all of the given scopes. See the package documentation for what is
// enforced.
func RequireTemplateScopes(s ...string) mcp.ResourceTemplateOption {
	return func(t *mcp.ResourceTemplate) { setMeta(&t.Meta, scopes.All(s...)) }
}

// Lookup returns the requirement of each tools/call, prompts/get and
// resources/read from s's registry. Names s does not have are unknown, so
// mcp-go answers them as usual.
func Lookup(s *server.MCPServer) auth.RequirementLookup {
	return auth.RequirementFunc(func(method, name string) (scopes.Requirement, bool) {
		switch method {
		case "tools/call":
			if t := s.GetTool(name); t != nil {
				req, _ := RequirementOf(t.Tool.Meta)
				return req, true
			}
		case "prompts/get":
			if p, ok := s.ListPrompts()[name]; ok {
				req, _ := RequirementOf(p.Prompt.Meta)
				return req, true
			}
		case "resources/read":
			if r, ok := s.ListResources()[name]; ok {
				req, _ := RequirementOf(r.Resource.Meta)
				return req, true
			}
		}
		return scopes.Requirement{}, false
	})
}

// Protect returns h (mcp-go's StreamableHTTPServer or SSEServer) protected by
// a: metadata, token validation, the per-operation scope check of
// [auth.Authenticator.Protect] with the requirements annotated on s, and
// session binding. The annotated scopes are added to the metadata's
// scopes_supported unless it was set explicitly.
func Protect(a *auth.Authenticator, s *server.MCPServer, h http.Handler) http.Handler {
	var all []string
	for _, t := range s.ListTools() {
		all = appendScopes(all, t.Tool.Meta)
	}
	for _, p := range s.ListPrompts() {
		all = appendScopes(all, p.Prompt.Meta)
	}
	for _, r := range s.ListResources() {
		all = appendScopes(all, r.Resource.Meta)
	}
	a.AdvertiseScopes(all...)
	return a.Protect(h, Lookup(s))
}

func appendScopes(dst []string, meta *mcp.Meta) []string {
	if req, ok := RequirementOf(meta); ok {
		dst = append(dst, req.Scopes().Slice()...)
	}
	return dst
}

// Option configures [ServerOptions].
type Option func(*options)

type options struct{ hide bool }

// HideUnauthorized makes tools/list and prompts/list show only what the
// caller's token can use. mcp-go applies the same filter to calls, so hidden
// items are also uncallable. By default everything is listed, so clients can
// discover what exists and step up.
func HideUnauthorized() Option { return func(o *options) { o.hide = true } }

// ServerOptions returns the mcp-go server options that re-check each
// annotated tool, prompt and resource from the context token, for transports
// that bypass the HTTP check (SSE message handling, in-process clients): a
// call without a token or without the scopes fails, naming what is missing.
func ServerOptions(a *auth.Authenticator, opts ...Option) []server.ServerOption {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	out := []server.ServerOption{
		server.WithToolHandlerMiddleware(func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
			return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				s := server.ServerFromContext(ctx)
				if s != nil {
					if t := s.GetTool(req.Params.Name); t != nil {
						if msg := denied(ctx, a, t.Tool.Meta); msg != "" {
							return mcp.NewToolResultError(msg), nil
						}
					}
				}
				return next(ctx, req)
			}
		}),
		server.WithPromptHandlerMiddleware(func(next server.PromptHandlerFunc) server.PromptHandlerFunc {
			return func(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				if s := server.ServerFromContext(ctx); s != nil {
					if p, ok := s.ListPrompts()[req.Params.Name]; ok {
						if msg := denied(ctx, a, p.Prompt.Meta); msg != "" {
							return nil, &deniedError{msg}
						}
					}
				}
				return next(ctx, req)
			}
		}),
		server.WithResourceHandlerMiddleware(func(next server.ResourceHandlerFunc) server.ResourceHandlerFunc {
			return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
				if s := server.ServerFromContext(ctx); s != nil {
					if r, ok := s.ListResources()[req.Params.URI]; ok {
						if msg := denied(ctx, a, r.Resource.Meta); msg != "" {
							return nil, &deniedError{msg}
						}
					}
				}
				return next(ctx, req)
			}
		}),
	}
	if o.hide {
		out = append(out,
			server.WithToolFilter(func(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
				return usable(ctx, a, tools, func(t mcp.Tool) *mcp.Meta { return t.Meta })
			}),
			server.WithPromptFilter(func(ctx context.Context, prompts []mcp.Prompt) []mcp.Prompt {
				return usable(ctx, a, prompts, func(p mcp.Prompt) *mcp.Meta { return p.Meta })
			}),
		)
	}
	return out
}

// usable keeps the items the context's token may use.
func usable[T any](ctx context.Context, a *auth.Authenticator, items []T, meta func(T) *mcp.Meta) []T {
	var kept []T
	for _, it := range items {
		if denied(ctx, a, meta(it)) == "" {
			kept = append(kept, it)
		}
	}
	return kept
}

// denied returns why the context's token may not use an item annotated with
// meta, or "" when it may.
func denied(ctx context.Context, a *auth.Authenticator, meta *mcp.Meta) string {
	req, ok := RequirementOf(meta)
	if !ok || req.IsZero() {
		return ""
	}
	t := auth.TokenFromContext(ctx)
	if t == nil {
		return "forbidden: this needs scopes [" + req.String() + "] and the request carries no validated token"
	}
	if err := a.CheckScopes(t, req); err != nil {
		var e *auth.Error
		if errors.As(err, &e) {
			return "forbidden: " + e.Description + " (needs [" + req.String() + "])"
		}
		return "forbidden: " + err.Error()
	}
	return ""
}

type deniedError struct{ msg string }

func (e *deniedError) Error() string { return e.msg }
