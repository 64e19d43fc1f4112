package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/mcpauth/mcpauth/scopes"
)

// Token is a validated access token: who the caller is and what it may do.
// It is immutable; Claims must not be modified.
type Token struct {
	// Subject is the sub claim: the user, or the client for machine tokens.
	Subject string
	// Issuer is the iss claim, one of the trusted issuers.
	Issuer string
	// ClientID is the OAuth client that obtained the token: client_id (RFC
	// 9068), azp (Entra, Auth0, Keycloak) or cid (Okta), the first present.
	ClientID string
	// Audience is the aud claim as a list.
	Audience []string
	// Scopes are the granted scopes after normalization (see [scopes.Config]).
	Scopes scopes.Set
	// Expiry is exp.
	Expiry time.Time
	// IssuedAt is iat, zero when absent.
	IssuedAt time.Time
	// ID is jti, "" when absent.
	ID string
	// Introspected reports whether the token was validated by RFC 7662
	// introspection rather than as a JWT.
	Introspected bool
	// DPoPKeyThumbprint is cnf.jkt: the thumbprint of the key a DPoP-bound
	// token is bound to (RFC 9449 §6), "" for a bearer token. The
	// Authenticator accepts a bound token only with a proof of that key.
	DPoPKeyThumbprint string

	claims  claimSet // nil for a Token a custom verifier built without claims
	raw     string   // kept only to compute the fingerprint; never exposed
	subject string   // subjectKey, computed once by this package's Verifier
	fpOnce  sync.Once
	fp      string
}

// NewToken returns a Token for raw with its claims (nil for none), for a
// [TokenVerifier] other than [Verifier] to fill in and return: it gives the
// Token its fingerprint and [Token.Claims]. The verifier sets the other
// fields (Subject is required; Expiry, when set, ends the token's use).
func NewToken(raw string, claims map[string]any) *Token {
	t := &Token{raw: raw}
	if claims != nil {
		t.claims = claimMap(claims)
	}
	return t
}

// Fingerprint returns a short, non-reversible identifier of the raw token,
// safe to log: "sha256:" and the first 12 hex digits of its SHA-256. It
// identifies a token across log lines (mcpauth's log records carry it)
// without revealing it. It is computed on first use; "" for a Token built
// without its raw token. For a raw token you hold,
// NewToken(raw, nil).Fingerprint().
func (t *Token) Fingerprint() string {
	t.fpOnce.Do(func() {
		if t.raw != "" {
			t.fp = fingerprint(t.raw)
		}
	})
	return t.fp
}

// Claims returns every claim of the token (the JWT payload or the
// introspection response) as encoding/json decodes them. The map is decoded
// on first use and shared: do not modify it.
func (t *Token) Claims() map[string]any {
	if t.claims == nil {
		return nil
	}
	return t.claims.All()
}

// fingerprint is Token.Fingerprint of raw.
func fingerprint(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

type ctxKey struct{}

// checkedRequest is what the middleware puts in a request's context: the
// token, and the body whose operations it checked and allowed (nil when
// it did not check them all), which the SDK adapters' dispatch gates need
// not decide again (internal/kit.Checked).
type checkedRequest struct {
	t    *Token
	body []byte
}

// TokenFromContext returns the token the middleware validated for this
// request, or nil when there is none.
func TokenFromContext(ctx context.Context) *Token {
	switch v := ctx.Value(ctxKey{}).(type) {
	case *Token:
		return v
	case *checkedRequest:
		return v.t
	}
	return nil
}

// checkedBody is kit.Checked.
func checkedBody(ctx context.Context) []byte {
	if v, ok := ctx.Value(ctxKey{}).(*checkedRequest); ok {
		return v.body
	}
	return nil
}

// ContextWithToken returns a copy of ctx carrying t, as the middleware does.
// Tests of handlers can use it to call them without a token round trip.
func ContextWithToken(ctx context.Context, t *Token) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}
