package auth

import (
	"sync"

	"github.com/mcpauth/mcpauth/scopes"
)

// Registry records the requirements an SDK adapter declares: of tools and
// prompts by name, of resources by URI, and of resource templates with a
// matcher for the URIs they serve. It is a [RequirementLookup] for
// [Authenticator.Protect]: tools/call and prompts/get by name;
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
