// Package gosdk connects [auth] to the official MCP Go SDK
// (github.com/modelcontextprotocol/go-sdk): requirements declared beside
// mcp.AddTool, one line per tool, published in the tool's _meta under
// "io.mcpauth/requiredScopes"; the HTTP-level check that answers a missing scope with a
// 403 step-up challenge before the SDK sees the call; a receiving middleware
// that checks again where the SDK dispatches; the validated token for
// handlers, through [auth.TokenFromContext] and through the SDK's own
// RequestExtra.TokenInfo and auth.TokenInfoFromContext; and optional hiding
// of what a caller cannot use. It imports no mcp-go, and package auth/mcpgo
// imports no go-sdk.
//
// Call [New] first, with the auth.Authenticator and the server, and
// declare requirements through the [Protector] it returns: the go-sdk
// offers no way to read a server's tools back, so a requirement written
// into an item's _meta by hand is published but not enforced.
//
//	s := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "1.0.0"}, nil)
//	p := gosdk.New(a, s)
//	mcp.AddTool(s, p.Tool(&mcp.Tool{Name: "add_note"}, "notes:write"), addNote)
//	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, gosdk.HandlerOptions(a))
//	http.ListenAndServe(":8080", p.Protect(h))
package gosdk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/yosida95/uritemplate/v3"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/kit"
	"github.com/mcpauth/mcpauth/internal/wire"
	"github.com/mcpauth/mcpauth/scopes"
)

// TokenInfoKey is the key of RequestExtra.TokenInfo.Extra under which the
// validated [*auth.Token] travels to the SDK's handlers.
const TokenInfoKey = "io.mcpauth/token"

// Protector protects one go-sdk server: it records the requirements
// declared with its methods and checks them at the HTTP level and where the
// SDK dispatches. Build it with [New] before the server serves.
type Protector struct {
	a    *auth.Authenticator
	reg  *kit.Registry
	hide bool
}

// Option configures [New].
type Option func(*Protector)

// HideUnauthorized makes tools/list, prompts/list, resources/list and
// resources/templates/list show only what the caller's token may use, and
// marks them cacheScope "private" (SEP-2549): a list filtered for one
// caller must not reach another through a shared cache.
func HideUnauthorized() Option { return func(p *Protector) { p.hide = true } }

// New returns the Protector of s and installs its receiving middleware in
// s, so that every tools/call, prompts/get and resources/read is checked
// where the SDK dispatches it, whatever the transport.
func New(a *auth.Authenticator, s *mcp.Server, opts ...Option) *Protector {
	p := &Protector{a: a, reg: kit.NewRegistry()}
	for _, o := range opts {
		o(p)
	}
	s.AddReceivingMiddleware(p.middleware)
	return p
}

// Tool declares that t needs all of the given scopes, publishes it in t's
// _meta and returns t, for mcp.AddTool or Server.AddTool.
func (p *Protector) Tool(t *mcp.Tool, s ...string) *mcp.Tool {
	return p.ToolRequires(t, scopes.All(s...))
}

// ToolRequires is [Protector.Tool] for any requirement, e.g.
// scopes.AnyOf(scopes.All("admin"), scopes.All("notes:read", "notes:write")).
func (p *Protector) ToolRequires(t *mcp.Tool, req scopes.Requirement) *mcp.Tool {
	t.Meta = publish(t.Meta, req)
	p.reg.SetTool(t.Name, req)
	kit.AdvertiseScopes(p.a, req.Scopes().Slice()...)
	return t
}

// Prompt declares that pr needs all of the given scopes.
func (p *Protector) Prompt(pr *mcp.Prompt, s ...string) *mcp.Prompt {
	req := scopes.All(s...)
	pr.Meta = publish(pr.Meta, req)
	p.reg.SetPrompt(pr.Name, req)
	kit.AdvertiseScopes(p.a, s...)
	return pr
}

// Resource declares that reading r needs all of the given scopes.
func (p *Protector) Resource(r *mcp.Resource, s ...string) *mcp.Resource {
	req := scopes.All(s...)
	r.Meta = publish(r.Meta, req)
	p.reg.SetResource(r.URI, req)
	kit.AdvertiseScopes(p.a, s...)
	return r
}

// ResourceTemplate declares that reads through t need all of the given
// scopes. A read that matches several templates needs what all of them
// require. A template the SDK cannot parse matches nothing here either.
func (p *Protector) ResourceTemplate(t *mcp.ResourceTemplate, s ...string) *mcp.ResourceTemplate {
	req := scopes.All(s...)
	t.Meta = publish(t.Meta, req)
	matches := func(string) bool { return false }
	if tmpl, err := uritemplate.New(t.URITemplate); err == nil { // as the SDK matches reads to templates
		re := tmpl.Regexp()
		matches = re.MatchString
	}
	p.reg.SetTemplate(t.URITemplate, req, matches)
	kit.AdvertiseScopes(p.a, s...)
	return t
}

func publish(m mcp.Meta, req scopes.Requirement) mcp.Meta {
	if m == nil {
		m = mcp.Meta{}
	}
	m[kit.MetaKey] = kit.RequirementMeta(req)
	return m
}

// Protect returns h (the SDK's StreamableHTTPHandler) protected by the
// Authenticator: metadata, token validation, the per-operation check with
// the declared requirements (403 insufficient_scope with the scopes to ask
// for, before the SDK sees the call), and session binding. The validated
// token reaches the SDK as RequestExtra.TokenInfo (UserID is the token's
// issuer and subject, so the SDK's own session check agrees) and handlers
// read it with [auth.TokenFromContext].
func (p *Protector) Protect(h http.Handler) http.Handler {
	// mcpauth has validated the token, exp included with its leeway; the
	// SDK's own expiry check must not refuse, with a bare 401, a token
	// inside that leeway (or one a custom verifier gave no expiry).
	bearer := sdkauth.RequireBearerToken(tokenInfo, &sdkauth.RequireBearerTokenOptions{AllowMissingExpiration: true, ClockSkew: time.Hour})(h)
	// OPTIONS (a CORS preflight) carries no token, nor does discovery when
	// auth.Config.AnonymousDiscovery allows it: mcpauth let them through,
	// and so must the SDK's bearer check, or a browser client gets 401. The
	// receiving middleware still refuses every guarded operation without a
	// token.
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions || auth.TokenFromContext(r.Context()) == nil {
			h.ServeHTTP(w, r)
			return
		}
		bearer.ServeHTTP(w, r)
	})
	return p.a.Protect(inner, p.reg.Requirement)
}

// tokenInfo hands the token the middleware validated to the SDK; it never
// verifies anything itself.
func tokenInfo(ctx context.Context, _ string, r *http.Request) (*sdkauth.TokenInfo, error) {
	t := auth.TokenFromContext(r.Context())
	if t == nil {
		return nil, sdkauth.ErrInvalidToken // not reached behind the middleware
	}
	return &sdkauth.TokenInfo{
		Scopes:     t.Scopes.Slice(),
		Expiration: t.Expiry,
		UserID:     t.Issuer + " " + t.Subject,
		Extra:      map[string]any{TokenInfoKey: t},
	}, nil
}

// HandlerOptions returns the StreamableHTTPHandler options that make idle
// sessions end when their binding to a subject does
// ([auth.Config.SessionIdleTimeout]).
func HandlerOptions(a *auth.Authenticator) *mcp.StreamableHTTPOptions {
	return &mcp.StreamableHTTPOptions{SessionTimeout: kit.SessionIdleTimeout(a)}
}

// TokenFrom returns the validated token of req, from its
// RequestExtra.TokenInfo, or nil.
func TokenFrom(req mcp.Request) *auth.Token {
	ex := req.GetExtra()
	if ex == nil || ex.TokenInfo == nil {
		return nil
	}
	t, _ := ex.TokenInfo.Extra[TokenInfoKey].(*auth.Token)
	return t
}

// middleware is the receiving middleware: it puts the token in the
// context, checks each operation against its requirement as the SDK
// dispatches it, and hides what the caller may not use when asked.
func (p *Protector) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		t := TokenFrom(req)
		if t != nil {
			ctx = auth.ContextWithToken(ctx, t)
		}
		if name, guarded := operationName(method, req); guarded {
			reqd, _ := p.reg.Requirement(method, name)
			if err := p.a.CheckScopes(t, reqd); err != nil {
				return nil, forbidden(method, name, err)
			}
		}
		res, err := next(ctx, method, req)
		if err == nil && p.hide {
			p.filter(t, res)
		}
		return res, err
	}
}

// operationName is the tool or prompt name or resource URI the SDK will
// dispatch req to, from the params it decoded itself.
func operationName(method string, req mcp.Request) (string, bool) {
	switch r := req.(type) {
	case *mcp.CallToolRequest:
		if r.Params != nil {
			return r.Params.Name, true
		}
		return "", method == "tools/call"
	case *mcp.GetPromptRequest:
		if r.Params != nil {
			return r.Params.Name, true
		}
		return "", true
	case *mcp.ReadResourceRequest:
		if r.Params != nil {
			return r.Params.URI, true
		}
		return "", true
	}
	return "", false
}

// forbidden is the JSON-RPC error of a refused operation: the code and data
// of the HTTP layer's JSON-RPC body.
func forbidden(method, name string, err error) error {
	var e *auth.Error
	if !errors.As(err, &e) {
		e = &auth.Error{Reason: auth.ReasonScopeInsufficient, Description: err.Error()}
	}
	data := map[string]any{"reason": e.Reason, "method": method, "name": name}
	var se *auth.ScopeError
	if errors.As(err, &se) {
		data["required"], data["missing"] = se.Required.String(), se.Result.Missing.String()
	}
	raw, _ := json.Marshal(data)
	return &jsonrpc.Error{Code: wire.CodeForbidden, Message: string(e.Reason) + ": " + e.Description, Data: raw}
}

// filter removes from a listing what t may not use, and marks it private
// (SEP-2549 cacheScope): filtered for one caller, it must not be served
// to another from a shared cache.
func (p *Protector) filter(t *auth.Token, res mcp.Result) {
	allowed := func(m mcp.Meta) bool {
		req, err := metaRequirement(m)
		return err == nil && p.a.CheckScopes(t, req) == nil
	}
	switch r := res.(type) {
	case *mcp.ListToolsResult:
		r.Tools = keep(r.Tools, func(x *mcp.Tool) mcp.Meta { return x.Meta }, allowed)
		r.CacheScope = private
	case *mcp.ListPromptsResult:
		r.Prompts = keep(r.Prompts, func(x *mcp.Prompt) mcp.Meta { return x.Meta }, allowed)
		r.CacheScope = private
	case *mcp.ListResourcesResult:
		r.Resources = keep(r.Resources, func(x *mcp.Resource) mcp.Meta { return x.Meta }, allowed)
		r.CacheScope = private
	case *mcp.ListResourceTemplatesResult:
		r.ResourceTemplates = keep(r.ResourceTemplates, func(x *mcp.ResourceTemplate) mcp.Meta { return x.Meta }, allowed)
		r.CacheScope = private
	}
}

// private is the SEP-2549 cacheScope of a result for one caller only.
const private = "private"

func keep[T any](items []T, meta func(T) mcp.Meta, allowed func(mcp.Meta) bool) []T {
	out := items[:0:0]
	for _, it := range items {
		if allowed(meta(it)) {
			out = append(out, it)
		}
	}
	return out
}

// metaRequirement reads the requirement published in m: none, or
// an error for a malformed one.
func metaRequirement(m mcp.Meta) (scopes.Requirement, error) {
	v, ok := m[kit.MetaKey]
	if !ok {
		return scopes.Requirement{}, nil
	}
	return kit.RequirementFromMeta(v)
}
