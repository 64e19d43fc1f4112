package auth

import (
	"github.com/mcpauth/mcpauth/internal/kit"
	"github.com/mcpauth/mcpauth/scopes"
)

// ScopeError details a valid token that lacks the scopes a request needs.
// It is the Err of an [*Error] with [ReasonScopeInsufficient].
type ScopeError struct {
	Required scopes.Requirement
	Granted  scopes.Set
	Result   scopes.Result
	Hints    []scopes.Hint
}

// Error returns the message: what was expected and what was seen.
func (e *ScopeError) Error() string {
	s := "granted scopes [" + e.Granted.String() + "] do not satisfy [" + e.Required.String() + "]; missing [" + e.Result.Missing.String() + "]"
	for _, h := range e.Hints {
		s += "; " + h.Message
	}
	return s
}

// ChallengeScopes chooses what the scope parameter of a 403
// insufficient_scope challenge asks for.
type ChallengeScopes int

const (
	// ScopesByRevision follows the MCP revision the request declares in its
	// MCP-Protocol-Version header: for 2026-07-28 and later it is
	// [MinimalScopes], since those clients add the challenge's scopes to the
	// ones they hold (SEP-2350, RFC 6750 §3.1); for earlier revisions, or
	// none, it is [GrantedPlusNeeded]. The default.
	ScopesByRevision ChallengeScopes = iota
	// GrantedPlusNeeded asks for the scopes already granted plus those the
	// request needs. MCP clients of revision 2025-11-25 replace their scope set
	// with the challenge's, so this keeps them from losing what they had.
	GrantedPlusNeeded
	// MinimalScopes asks only for what the request needs: the baseline
	// scopes and the cheapest path of the operation's requirement.
	MinimalScopes
)

// scopeAccumulatingRevision is the first MCP revision whose clients
// accumulate scopes across step-ups themselves (SEP-2350).
const scopeAccumulatingRevision = "2026-07-28"

// strategy resolves ScopesByRevision for a request's MCP-Protocol-Version.
// Revisions are dates (YYYY-MM-DD) and compare as strings; anything else is
// treated as an earlier revision.
func (s ChallengeScopes) strategy(version string) ChallengeScopes {
	if s != ScopesByRevision {
		return s
	}
	if len(version) == len(scopeAccumulatingRevision) && version[4] == '-' && version[7] == '-' && version >= scopeAccumulatingRevision {
		return MinimalScopes
	}
	return GrantedPlusNeeded
}

// CheckScopes reports whether t may do what needs req, beyond the baseline
// the middleware checked, with the Authenticator's scope rules
// (implications, aliases): nil, or an [*Error] with
// [ReasonScopeInsufficient] and a [*ScopeError] saying what is missing,
// [ReasonTokenMissing] for a nil t (the request did not come through the
// middleware), or [ReasonRequirementUnknown] for a requirement an SDK
// adapter could not determine. Use it in a handler for decisions finer
// than a tool's (a write to another user's notes); the SDK adapters call
// it where the SDK dispatches an operation, and to hide what a caller
// cannot use.
func (a *Authenticator) CheckScopes(t *Token, req scopes.Requirement) error {
	switch {
	case req.IsZero(), t != nil && a.norm.Satisfies(t.Scopes, req): // no token holds the undetermined scope
		return nil
	case kit.IsUndetermined(req):
		return fail(ReasonRequirementUnknown, "the scopes this operation needs cannot be determined, so it is refused")
	case t == nil:
		return fail(ReasonTokenMissing, "this needs scopes [%s] and the request carries no validated token", req.String())
	}
	se := &ScopeError{Required: req, Granted: t.Scopes, Result: a.norm.Check(t.Scopes, req), Hints: a.norm.Explain(t.Scopes, req)}
	desc := "the token lacks scope " + se.Result.Missing.String() + " that this request needs"
	if len(se.Hints) > 0 {
		desc += "; " + se.Hints[0].Message
	}
	return &Error{Reason: ReasonScopeInsufficient, Description: desc, Err: se}
}
