package mcpgo

import (
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mcpauth/mcpauth/internal/kit"
	"github.com/mcpauth/mcpauth/scopes"
)

func setMeta(m **mcp.Meta, req scopes.Requirement) {
	if *m == nil {
		*m = &mcp.Meta{}
	}
	if (*m).AdditionalFields == nil {
		(*m).AdditionalFields = map[string]any{}
	}
	(*m).AdditionalFields[kit.MetaKey] = kit.RequirementMeta(req)
}

// RequirementOf returns the requirement published in meta under
// "io.mcpauth/requiredScopes", if there is a readable one: the value the options of this
// package store, or its decoded JSON form (as clients see it).
func RequirementOf(meta *mcp.Meta) (scopes.Requirement, bool) {
	req, err := metaRequirement(meta)
	return req, err == nil && meta != nil && meta.AdditionalFields[kit.MetaKey] != nil
}

// metaRequirement reads meta's requirement: none (the zero Requirement) or
// an error for a malformed one.
func metaRequirement(meta *mcp.Meta) (scopes.Requirement, error) {
	if meta == nil || meta.AdditionalFields == nil {
		return scopes.Requirement{}, nil
	}
	v, present := meta.AdditionalFields[kit.MetaKey]
	if !present {
		return scopes.Requirement{}, nil
	}
	return kit.RequirementFromMeta(v)
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
