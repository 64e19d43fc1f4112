package auth

import (
	"encoding/json"
	"errors"

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
var ErrMalformedRequirement = errors.New("auth: the " + MetaKey + " annotation cannot be read")

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

// Permit reports whether t may run an operation that needs req, beyond the
// baseline the HTTP layer checked: nil, or an [*Error] with
// [ReasonTokenMissing] (no validated token: the operation did not come
// through the middleware), [ReasonRequirementUnknown] or
// [ReasonScopeInsufficient]. SDK adapters call it where the SDK dispatches
// an operation, and to hide what a caller cannot use.
func (a *Authenticator) Permit(t *Token, req scopes.Requirement) error {
	switch {
	case req.IsZero():
		return nil
	case isUndetermined(req):
		return fail(ReasonRequirementUnknown, "the scopes this operation needs cannot be determined, so it is refused")
	case t == nil:
		return fail(ReasonTokenMissing, "this needs scopes [%s] and the request carries no validated token", req.String())
	}
	return a.CheckScopes(t, req)
}
