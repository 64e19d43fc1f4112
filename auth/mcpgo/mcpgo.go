package mcpgo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"

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

// RequireTemplateScopes declares that reads through a resource template need
// all of the given scopes.
func RequireTemplateScopes(s ...string) mcp.ResourceTemplateOption {
	return func(t *mcp.ResourceTemplate) { setMeta(&t.Meta, scopes.All(s...)) }
}

// Lookup returns the requirement of each tools/call, prompts/get and
// resources/read from s's registries, for the HTTP-level check (which turns
// a missing scope into a 403 that clients step up on): tools (also those
// added with AddTaskTool), prompts, resources and resource templates. Items
// that live in one session only (AddSessionTool, AddSessionResource,
// AddSessionResourceTemplate) are not visible without the session; they are
// reported unknown and left to the dispatch gate of [ServerOptions], which
// sees the session. When s has no gate, unknown names are refused, because
// their requirement cannot be determined. An item whose annotation cannot be
// read is refused too.
func Lookup(s *server.MCPServer) auth.RequirementLookup {
	gated := hasGate(s)
	return auth.RequirementFunc(func(method, name string) (scopes.Requirement, bool) {
		req, found, err := resolve(internalCtx, s, method, name)
		switch {
		case err != nil:
			return auth.Undetermined(), true
		case found:
			return req, true
		case gated:
			return scopes.Requirement{}, false // the gate decides, with the session in view
		}
		return auth.Undetermined(), true
	})
}

// internalKey marks the context of the listings resolve makes, so that the
// HideUnauthorized filters pass everything through.
type internalKey struct{}

var internalCtx = context.WithValue(context.Background(), internalKey{}, true)

// errMalformed is an annotation that is present but cannot be read.
var errMalformed = errors.New("the " + MetaKey + " annotation cannot be read")

// metaRequirement reads meta's requirement: none (the zero Requirement) or
// errMalformed.
func metaRequirement(meta *mcp.Meta) (scopes.Requirement, error) {
	if meta == nil || meta.AdditionalFields == nil {
		return scopes.Requirement{}, nil
	}
	if _, present := meta.AdditionalFields[MetaKey]; !present {
		return scopes.Requirement{}, nil
	}
	req, ok := RequirementOf(meta)
	if !ok {
		return scopes.Requirement{}, errMalformed
	}
	return req, nil
}

// resolve finds the requirement of method/name the way mcp-go dispatches it
// in ctx: a session's own tools and resources before the server's, task
// tools after regular ones, resource templates after resources (when several
// templates match a URI, all their requirements apply). found is false when
// mcp-go has nothing to dispatch to.
func resolve(ctx context.Context, s *server.MCPServer, method, name string) (req scopes.Requirement, found bool, err error) {
	session := server.ClientSessionFromContext(ctx)
	switch method {
	case "tools/call":
		if st, ok := session.(server.SessionWithTools); ok {
			if t, ok := st.GetSessionTools()[name]; ok {
				req, err = metaRequirement(t.Tool.Meta)
				return req, true, err
			}
		}
		if t := s.GetTool(name); t != nil {
			req, err = metaRequirement(t.Tool.Meta)
			return req, true, err
		}
		// Task tools (AddTaskTool) have no accessor: find them in a listing.
		tools, err := listTools(ctx, s)
		if err != nil {
			return req, false, err
		}
		for _, t := range tools {
			if t.Name == name {
				req, err = metaRequirement(t.Meta)
				return req, true, err
			}
		}
	case "prompts/get":
		if p, ok := s.ListPrompts()[name]; ok {
			req, err = metaRequirement(p.Prompt.Meta)
			return req, true, err
		}
	case "resources/read":
		if sr, ok := session.(server.SessionWithResources); ok {
			if r, ok := sr.GetSessionResources()[name]; ok {
				req, err = metaRequirement(r.Resource.Meta)
				return req, true, err
			}
		}
		if r, ok := s.ListResources()[name]; ok {
			req, err = metaRequirement(r.Resource.Meta)
			return req, true, err
		}
		// Templates: a session's first, as mcp-go matches them.
		if stt, ok := session.(server.SessionWithResourceTemplates); ok {
			var ts []mcp.ResourceTemplate
			for _, t := range stt.GetSessionResourceTemplates() {
				ts = append(ts, t.Template)
			}
			if req, found, err = matchTemplates(ts, name); found || err != nil {
				return req, found, err
			}
		}
		ts, err := listTemplates(ctx, s)
		if err != nil {
			return req, false, err
		}
		return matchTemplates(ts, name)
	}
	return req, false, nil
}

// matchTemplates combines the requirements of every template matching uri.
func matchTemplates(ts []mcp.ResourceTemplate, uri string) (req scopes.Requirement, found bool, err error) {
	for _, t := range ts {
		if t.URITemplate == nil || t.URITemplate.Template == nil || !t.URITemplate.Regexp().MatchString(uri) {
			continue
		}
		r, err := metaRequirement(t.Meta)
		if err != nil {
			return req, true, err
		}
		req, found = req.And(r), true
	}
	return req, found, nil
}

// maxListPages bounds the pages an internal listing follows.
const maxListPages = 1000

// listTools lists the tools mcp-go would dispatch to in ctx, task tools
// included, through its own tools/list (filters apply, pages are followed).
func listTools(ctx context.Context, s *server.MCPServer) ([]mcp.Tool, error) {
	return list(ctx, s, "tools/list", func(r mcp.ListToolsResult) ([]mcp.Tool, mcp.Cursor) { return r.Tools, r.NextCursor })
}

// listTemplates lists the server's resource templates, as listTools does.
func listTemplates(ctx context.Context, s *server.MCPServer) ([]mcp.ResourceTemplate, error) {
	return list(ctx, s, "resources/templates/list", func(r mcp.ListResourceTemplatesResult) ([]mcp.ResourceTemplate, mcp.Cursor) {
		return r.ResourceTemplates, r.NextCursor
	})
}

var errListing = errors.New("the server's listing cannot be read")

// list runs a paginated list method of s in-process and collects the items
// page reads from each result (R, which mcp-go returns as a value or a
// pointer).
func list[R, T any](ctx context.Context, s *server.MCPServer, method string, page func(R) ([]T, mcp.Cursor)) ([]T, error) {
	ctx = context.WithValue(ctx, internalKey{}, true)
	var (
		out    []T
		cursor mcp.Cursor
	)
	for range maxListPages {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 0, "method": method, "params": params})
		resp, ok := s.HandleMessage(ctx, msg).(mcp.JSONRPCResponse)
		if !ok {
			return nil, errListing
		}
		r, ok := resp.Result.(R)
		if p, isPtr := resp.Result.(*R); isPtr && p != nil {
			r, ok = *p, true
		}
		if !ok {
			return nil, errListing
		}
		items, next := page(r)
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		cursor = next
	}
	return nil, errListing
}

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
	a.AdvertiseScopes(all...)
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
	return []server.StreamableHTTPOption{server.WithSessionIdleTTL(a.SessionIdleTimeout())}
}

// Option configures [ServerOptions].
type Option func(*options)

type options struct{ hide bool }

// HideUnauthorized makes tools/list and prompts/list show only what the
// caller's token can use. mcp-go applies the same filter to calls, so hidden
// items are also uncallable. By default everything is listed, so clients can
// discover what exists and step up.
func HideUnauthorized() Option { return func(o *options) { o.hide = true } }

// ServerOptions returns the mcp-go server options that check every
// tools/call, prompts/get and resources/read where mcp-go dispatches it,
// whatever the transport (Streamable HTTP, SSE, stdio, in-process): a gate
// that runs before each request resolves the operation as mcp-go will (a
// session's own tools and resources, task tools, resource templates) and
// refuses it, naming what is missing, when the context's token lacks the
// scopes, when there is no token, or when the requirement cannot be read.
// The gate is an OnRequestInitialization hook: pass your own server.Hooks
// with server.WithHooks before these options, or add [Gate] to them.
func ServerOptions(a *auth.Authenticator, opts ...Option) []server.ServerOption {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	out := []server.ServerOption{
		func(s *server.MCPServer) {
			h := s.GetHooks()
			if h == nil {
				h = &server.Hooks{}
				server.WithHooks(h)(s)
			}
			if !hasGate(s) {
				h.AddOnRequestInitialization(Gate(a))
			}
		},
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

// Gate returns the hook [ServerOptions] installs: add it to your own
// server.Hooks with AddOnRequestInitialization when you configure hooks
// after ServerOptions.
//
//go:noinline
func Gate(a *auth.Authenticator) server.OnRequestInitializationFunc {
	return func(ctx context.Context, id any, message any) error {
		raw, ok := message.(json.RawMessage)
		if !ok {
			return errors.New("forbidden: the request cannot be read")
		}
		ops, err := auth.ParseOperations(raw)
		if err != nil {
			return fmt.Errorf("forbidden: %w", err)
		}
		s := server.ServerFromContext(ctx)
		for _, op := range ops {
			if s == nil {
				return errors.New("forbidden: no MCP server in the context")
			}
			req, found, err := resolve(ctx, s, op.Method, op.Name)
			if err != nil {
				return fmt.Errorf("forbidden: %s %q: %w", op.Method, op.Name, err)
			}
			if !found {
				continue // mcp-go answers "not found" and runs nothing
			}
			if msg := deniedReq(ctx, a, req); msg != "" {
				return &deniedError{msg}
			}
		}
		return nil
	}
}

// gatePC identifies the hook Gate returns (Gate is never inlined, so all
// its hooks share one code pointer).
var gatePC = reflect.ValueOf(Gate(nil)).Pointer()

// hasGate reports whether s runs the gate before requests.
func hasGate(s *server.MCPServer) bool {
	h := s.GetHooks()
	if h == nil {
		return false
	}
	for _, f := range h.OnRequestInitialization {
		if reflect.ValueOf(f).Pointer() == gatePC {
			return true
		}
	}
	return false
}

// usable keeps the items the context's token may use (all of them in the
// listings resolve makes).
func usable[T any](ctx context.Context, a *auth.Authenticator, items []T, meta func(T) *mcp.Meta) []T {
	if ctx.Value(internalKey{}) != nil {
		return items
	}
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
	req, err := metaRequirement(meta)
	if err != nil {
		return "forbidden: " + err.Error()
	}
	return deniedReq(ctx, a, req)
}

// deniedReq returns why the context's token does not meet req, or "".
func deniedReq(ctx context.Context, a *auth.Authenticator, req scopes.Requirement) string {
	if req.IsZero() {
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
