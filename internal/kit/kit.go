// Package kit is what mcpauth's SDK adapters (auth/mcpgo, auth/gosdk)
// share and its users never call: the _meta key under which an item
// publishes its requirement, a registry of declared requirements, the
// undetermined requirement, and hooks into package auth.
package kit

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/mcpauth/mcpauth/scopes"
)

// MetaKey is the _meta key under which an MCP tool, prompt, resource or
// resource template publishes its requirement, in every SDK adapter: a JSON
// array of paths, any of which suffices, each an array of scopes all
// needed, e.g. [["notes:write"]] or [["admin"],["notes:read","notes:write"]].
const MetaKey = "io.mcpauth/requiredScopes"

// ErrMalformedRequirement is returned by [RequirementFromMeta] for a value
// under [MetaKey] that is not an array of arrays of valid scope tokens.
// Operations annotated with one are refused ([ReasonRequirementUnknown]).
var ErrMalformedRequirement = errors.New("the " + MetaKey + " annotation cannot be read")

// RequirementMeta returns the value to store under [MetaKey] for req: it
// encodes as the documented JSON and keeps req compiled, so that adapters
// read it back without decoding.
func RequirementMeta(req scopes.Requirement) any { return requirementMeta{req} }

type requirementMeta struct{ req scopes.Requirement }

func (r requirementMeta) MarshalJSON() ([]byte, error) {
	paths := r.req.Paths()
	out := make([][]string, len(paths))
	for i, p := range paths {
		out[i] = p.Slice()
	}
	return json.Marshal(out)
}

// RequirementFromMeta reads the value stored under [MetaKey]: what
// [RequirementMeta] stored, or its JSON decoded (as a client, or an SDK
// that round-trips _meta through JSON, sees it). Anything else is
// [ErrMalformedRequirement].
func RequirementFromMeta(v any) (scopes.Requirement, error) {
	switch v := v.(type) {
	case requirementMeta:
		return v.req, nil
	case json.RawMessage:
		var decoded any
		if err := json.Unmarshal(v, &decoded); err != nil {
			return scopes.Requirement{}, ErrMalformedRequirement
		}
		return RequirementFromMeta(decoded)
	case []any:
		var reqs []scopes.Requirement
		for _, p := range v {
			path, ok := p.([]any)
			if !ok {
				return scopes.Requirement{}, ErrMalformedRequirement
			}
			var names []string
			for _, s := range path {
				name, ok := s.(string)
				if !ok || !scopes.ValidToken(name) {
					return scopes.Requirement{}, ErrMalformedRequirement
				}
				names = append(names, name)
			}
			reqs = append(reqs, scopes.All(names...))
		}
		return scopes.AnyOf(reqs...), nil
	}
	return scopes.Requirement{}, ErrMalformedRequirement
}

// undeterminedScope is the one scope of [Undetermined]: with a space in it,
// no token can carry it.
const undeterminedScope = "(requirement undetermined)"

// Undetermined returns the requirement a lookup reports, with known true,
// for an operation whose requirement cannot be determined (an annotation
// that cannot be read, an item only the MCP server's own dispatch can see
// when it runs no check of its own). Package auth refuses such an operation
// with ReasonRequirementUnknown, never allows it.
func Undetermined() scopes.Requirement { return scopes.All(undeterminedScope) }

// IsUndetermined reports whether req holds [Undetermined].
func IsUndetermined(req scopes.Requirement) bool {
	for _, p := range req.Paths() {
		if p.Contains(undeterminedScope) {
			return true
		}
	}
	return false
}

// Hooks into package auth, which sets them in its init: what the adapters
// need of an *auth.Authenticator that is not its users' API. a is an
// *auth.Authenticator.
var (
	// AdvertiseScopes adds scopes to the scopes_supported of a's metadata,
	// unless auth.Config.ScopesSupported set it explicitly; offline_access
	// and invalid scope tokens are never advertised.
	AdvertiseScopes func(a any, s ...string)
	// SessionIdleTimeout returns how long a's session bindings live
	// without use, which the MCP server's own sessions should match.
	SessionIdleTimeout func(a any) time.Duration
	// Checked returns the JSON-RPC body (one message) whose every guarded
	// operation Protect found known and allowed for the request of ctx, nil
	// when there is none: a dispatch gate handed these same bytes, on the
	// same request, would decide the same, and may skip deciding again.
	Checked func(ctx context.Context) []byte
)

// Registry records the requirements an SDK adapter declares: of tools and
// prompts by name, of resources by URI, and of resource templates with a
// matcher for the URIs they serve. Its Requirement method is the lookup of
// auth.Authenticator.Protect: tools/call and prompts/get by name;
// resources/read by the exact resource, else every matching template
// (all their requirements apply, whichever the SDK picks). Names it does
// not know are reported unknown: the SDK answers them (not found) and
// the baseline applies. It is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	tools     map[string]scopes.Requirement
	prompts   map[string]scopes.Requirement
	resources map[string]scopes.Requirement
	templates map[string]registeredTemplate
}

type registeredTemplate struct {
	req     scopes.Requirement
	matches func(uri string) bool
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{tools: map[string]scopes.Requirement{}, prompts: map[string]scopes.Requirement{},
		resources: map[string]scopes.Requirement{}, templates: map[string]registeredTemplate{}}
}

// SetTool records what tool name needs (the zero Requirement: the baseline only).
func (r *Registry) SetTool(name string, req scopes.Requirement) { r.set(r.tools, name, req) }

// SetPrompt records what prompt name needs.
func (r *Registry) SetPrompt(name string, req scopes.Requirement) { r.set(r.prompts, name, req) }

// SetResource records what reading the resource uri needs.
func (r *Registry) SetResource(uri string, req scopes.Requirement) { r.set(r.resources, uri, req) }

// SetTemplate records what reading through the template needs; matches
// says which URIs it serves.
func (r *Registry) SetTemplate(template string, req scopes.Requirement, matches func(uri string) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.templates[template] = registeredTemplate{req: req, matches: matches}
}

func (r *Registry) set(m map[string]scopes.Requirement, key string, req scopes.Requirement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m[key] = req
}

// Requirement implements [RequirementLookup].
func (r *Registry) Requirement(method, name string) (scopes.Requirement, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	switch method {
	case "tools/call":
		req, ok := r.tools[name]
		return req, ok
	case "prompts/get":
		req, ok := r.prompts[name]
		return req, ok
	case "resources/read":
		if req, ok := r.resources[name]; ok {
			return req, true
		}
		var req scopes.Requirement
		found := false
		for _, t := range r.templates {
			if t.matches(name) {
				req, found = req.And(t.req), true
			}
		}
		return req, found
	}
	return scopes.Requirement{}, false
}
