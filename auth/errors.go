package auth

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/internal/nearmiss"
	"github.com/mcpauth/mcpauth/internal/wire"
)

// Reason is a stable, machine-readable code for an authorization decision.
// Reasons appear in log records, in [Error] values and in the troubleshooting
// table of the README; they do not change between releases.
type Reason string

// The reasons a request can be refused.
const (
	ReasonTokenMissing        Reason = "token_missing"         // no bearer token: 401, no error code
	ReasonRequestInvalid      Reason = "request_invalid"       // token in the query or body, two Authorization headers, empty Bearer: 400
	ReasonTokenTooLarge       Reason = "token_too_large"       // token over VerifierConfig.MaxTokenBytes, refused unparsed: 400
	ReasonTokenMalformed      Reason = "token_malformed"       // not a compact JWS: bad base64 or JSON, JWE, nested JWT, crit: 401
	ReasonAlgorithmNotAllowed Reason = "algorithm_not_allowed" // alg none, HMAC, or off the allowlist: 401
	ReasonSignatureInvalid    Reason = "signature_invalid"     // signature does not verify: 401
	ReasonKeyUnknown          Reason = "key_unknown"           // no key with the token's kid, even after a refresh: 401
	ReasonKeysetUnavailable   Reason = "keyset_unavailable"    // keys cannot be fetched, so the token cannot be checked now: 503
	ReasonIssuerUntrusted     Reason = "issuer_untrusted"      // iss missing or not a trusted issuer: 401
	ReasonAudienceMismatch    Reason = "audience_mismatch"     // aud does not name this resource: 401
	ReasonExpired             Reason = "expired"               // exp missing or past: 401
	ReasonNotYetValid         Reason = "not_yet_valid"         // nbf or iat in the future: 401
	ReasonTypInvalid          Reason = "typ_invalid"           // typ is not at+jwt while VerifierConfig.RequireJWTAccessTokenType (or not VerifierConfig.Type): 401
	ReasonClaimInvalid        Reason = "claim_invalid"         // a claim of the wrong type, or sub missing: 401
	ReasonTokenInactive       Reason = "token_inactive"        // introspection says active=false: 401
	ReasonIntrospectionFailed Reason = "introspection_failed"  // introspection endpoint unreachable or broken: 503
	ReasonScopeInsufficient   Reason = "scope_insufficient"    // valid token without the required scopes: 403
	ReasonRequestTooLarge     Reason = "request_too_large"     // JSON-RPC body over Config.MaxBodyBytes: 413
	ReasonSessionMismatch     Reason = "session_mismatch"      // Mcp-Session-Id created by another subject: 404
	ReasonHeaderMismatch      Reason = "header_mismatch"       // Mcp-Method/Mcp-Name disagree with the body or are malformed: 400, JSON-RPC -32020
	ReasonSessionLimit        Reason = "session_limit"         // no room to bind another session (Config.MaxSessions, MaxSessionsPerSubject): 503
	ReasonRequestIDConflict   Reason = "request_id_conflict"   // a sessionless request or cancellation names another subject's in-flight request id: 409
	ReasonRequirementUnknown  Reason = "requirement_unknown"   // the operation's requirement cannot be determined (unreadable annotation, no dispatch check): 403
	ReasonVerifierFailed      Reason = "verifier_failed"       // a custom TokenVerifier failed for a reason other than the token (its database down): 503
	ReasonDPoPProofInvalid    Reason = "dpop_proof_invalid"    // DPoP proof missing, malformed, for another URL or method, stale, replayed, or of another key than the token's: 401 invalid_dpop_proof
	ReasonDPoPNonce           Reason = "dpop_nonce_required"   // the DPoP proof lacks a current server nonce (DPoPConfig.NonceKey): 401 use_dpop_nonce, with DPoP-Nonce
	ReasonDPoPRequired        Reason = "dpop_required"         // a DPoP-bound token sent as a bearer token, or a bearer token where DPoPConfig.Required: 401
	ReasonDPoPUnavailable     Reason = "dpop_unavailable"      // the DPoP replay store is down or full, so proofs cannot be checked now: 503
)

// Error returns the reason code, so that a Reason can be the target of
// errors.Is.
func (r Reason) Error() string { return string(r) }

// Status returns the HTTP status the middleware answers for r.
func (r Reason) Status() int {
	switch r {
	case ReasonTokenMissing:
		return http.StatusUnauthorized
	case ReasonRequestInvalid, ReasonTokenTooLarge, ReasonHeaderMismatch:
		return http.StatusBadRequest
	case ReasonRequestIDConflict:
		return http.StatusConflict
	case ReasonKeysetUnavailable, ReasonIntrospectionFailed, ReasonSessionLimit, ReasonVerifierFailed, ReasonDPoPUnavailable:
		return http.StatusServiceUnavailable
	case ReasonScopeInsufficient, ReasonRequirementUnknown:
		return http.StatusForbidden
	case ReasonRequestTooLarge:
		return http.StatusRequestEntityTooLarge
	case ReasonSessionMismatch:
		return http.StatusNotFound
	default:
		return http.StatusUnauthorized
	}
}

// OAuthError returns the RFC 6750 §3.1 error code for r: "" for a missing
// token (RFC 6750 says to send no error code then), "invalid_request",
// "insufficient_scope" or "invalid_token". Server-side failures (503) have
// none.
func (r Reason) OAuthError() string {
	switch r {
	case ReasonTokenMissing, ReasonKeysetUnavailable, ReasonIntrospectionFailed, ReasonRequestTooLarge, ReasonSessionMismatch,
		ReasonHeaderMismatch, ReasonSessionLimit, ReasonRequestIDConflict, ReasonRequirementUnknown, ReasonVerifierFailed, ReasonDPoPUnavailable:
		return ""
	case ReasonDPoPProofInvalid:
		return "invalid_dpop_proof"
	case ReasonDPoPNonce:
		return "use_dpop_nonce"
	case ReasonRequestInvalid, ReasonTokenTooLarge:
		return "invalid_request"
	case ReasonScopeInsufficient:
		return "insufficient_scope"
	default:
		return "invalid_token"
	}
}

// Error is the error every check of this package returns. Branch on its
// Reason with errors.Is(err, auth.ReasonExpired), or use errors.As for the
// details. Its messages never contain the token.
type Error struct {
	// Reason is the stable code.
	Reason Reason
	// Description says what was expected and what was seen. It is sent to the
	// client as error_description, so it holds no secrets.
	Description string
	// Err is the underlying cause, when there is one (a [*ClaimError], a
	// key set fetch error, ...). Causes are logged, never sent to clients.
	Err error

	op         *wire.Operation // the MCP operation refused, answered with a JSON-RPC error
	retryAfter time.Duration   // for a 503: when the client may retry
}

// Error returns the message: what was expected and what was seen.
func (e *Error) Error() string {
	s := "auth: " + string(e.Reason)
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Err != nil { // the cause, unless the description already says it
		if cause := e.Err.Error(); !strings.Contains(e.Description, cause) {
			s += ": " + cause
		}
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Reason (or an *Error with the same
// Reason), so errors.Is(err, auth.ReasonExpired) matches every
// expired-token error.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Reason:
		return t == e.Reason
	case *Error:
		return t.Reason == e.Reason
	}
	return false
}

// untrusted is the refusal of a token from issuer iss.
func untrusted(trusted []string, iss string) *Error {
	ce := &ClaimError{Claim: "iss", Expected: trusted}
	if iss != "" {
		ce.Actual = []string{iss}
		for _, t := range trusted {
			if strings.TrimSuffix(t, "/") == strings.TrimSuffix(iss, "/") {
				ce.Hint = nearmiss.TrailingSlash
			}
		}
	}
	return &Error{Reason: ReasonIssuerUntrusted, Description: ce.Error(), Err: ce}
}

func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Description: fmt.Sprintf(format, args...)}
}

// ClaimError details a token claim this server does not accept: an issuer
// it does not trust (Claim "iss", the Err of an [*Error] with
// ReasonIssuerUntrusted) or an audience that does not name this resource
// (Claim "aud", with ReasonAudienceMismatch): what the token said, what
// this server accepts, and the near miss when there is one.
type ClaimError struct {
	Claim    string   // "iss" or "aud"
	Expected []string // the values this server accepts
	Actual   []string // the token's values; none when it has no such claim
	// Hint names a recognized near miss: "trailing_slash" (a value differs
	// from an accepted one only by a trailing slash), "origin_only" (the
	// token names the resource's origin where its full URL is expected, or
	// the reverse), or "" for none.
	Hint string
}

// Error returns the message: what was expected and what was seen.
func (e *ClaimError) Error() string {
	if e.Claim == "iss" {
		if len(e.Actual) == 0 {
			return "token has no iss claim"
		}
		s := fmt.Sprintf("issuer %s is not one of %s", quoteAll(e.Actual), quoteAll(e.Expected))
		if e.Hint == nearmiss.TrailingSlash {
			s += " (they differ only by a trailing slash; configure the issuer exactly as the authorization server's metadata states it)"
		}
		return s
	}
	s := fmt.Sprintf("audience %s is not %s", quoteAll(e.Actual), quoteAll(e.Expected))
	switch e.Hint {
	case nearmiss.TrailingSlash:
		s += " (they differ only by a trailing slash; fix the resource the client requests, or set VerifierConfig.AllowAudienceTrailingSlash)"
	case nearmiss.OriginOnly:
		s += " (the token names the origin, not the MCP endpoint URL, or the reverse; the client must request resource=<the exact resource URL> per RFC 8707, or add the value to VerifierConfig.Audiences)"
	}
	return s
}

func quoteAll(v []string) string {
	if len(v) == 0 {
		return "(none)"
	}
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "[" + strings.Join(q, ", ") + "]"
}
