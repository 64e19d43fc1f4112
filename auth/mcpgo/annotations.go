package mcpgo

import (
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
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
