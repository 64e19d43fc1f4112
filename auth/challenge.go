package auth

import (
	"errors"
	"net/http"
	"strings"
)

// challenge is the Bearer WWW-Authenticate challenge of RFC 6750 §3 with the
// RFC 9728 resource_metadata parameter.
type challenge struct {
	// Error is the RFC 6750 error code: "", "invalid_request",
	// "invalid_token" or "insufficient_scope".
	Error string
	// Description is error_description, sanitized when written.
	Description string
	// Scope lists the scopes the client should request, space-delimited.
	Scope string
	// ResourceMetadata is the absolute URL of the protected resource metadata.
	ResourceMetadata string
}

// String renders the challenge: each parameter at most once, values quoted,
// and every value stripped of what a quoted-string or RFC 6750 forbids
// ('"', '\', control characters, non-ASCII), so nothing from a token or a
// request can break the header.
func (c challenge) String() string { return c.render("Bearer", "") }

// dpop renders the challenge for the DPoP scheme (RFC 9449 §7.1), with
// the proof algorithms accepted.
func (c challenge) dpop(algs []string) string { return c.render("DPoP", strings.Join(algs, " ")) }

func (c challenge) render(scheme, algs string) string {
	var b strings.Builder
	b.WriteString(scheme)
	sep := " "
	param := func(name, v string) {
		if v == "" {
			return
		}
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(sanitize(v))
		b.WriteByte('"')
		sep = ", "
	}
	param("resource_metadata", c.ResourceMetadata)
	param("scope", c.Scope)
	param("error", c.Error)
	param("error_description", c.Description)
	param("algs", algs)
	return b.String()
}

// sanitize keeps the characters RFC 6750 §3 allows in error_description
// (%x20-21 / %x23-5B / %x5D-7E): '"' becomes '\”, everything else outside is
// dropped or, for whitespace, replaced by a space.
func sanitize(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			b.WriteByte('\'')
		case c == '\t' || c == '\r' || c == '\n':
			b.WriteByte(' ')
		case c < 0x20 || c > 0x7e || c == '\\':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// challenge returns the WWW-Authenticate challenge for err, in answer to r
// (whose MCP-Protocol-Version chooses the scopes of a 403 under
// [ScopesByRevision]; r may be nil).
func (a *Authenticator) challenge(r *http.Request, err error) challenge {
	e := asError(err)
	c := challenge{ResourceMetadata: a.resourceMetadataURL, Error: e.Reason.OAuthError(), Description: e.Description}
	var se *ScopeError
	switch {
	case e.Reason == ReasonScopeInsufficient && errors.As(e, &se):
		var version string
		if r != nil {
			version = r.Header.Get("Mcp-Protocol-Version")
		}
		if a.challengeScopes.strategy(version) == MinimalScopes {
			c.Scope = se.Result.Minimal.String()
		} else {
			c.Scope = se.Result.GrantedPlusNeeded.String()
		}
	default:
		c.Scope = a.challengeBaseline
	}
	if c.Error == "" {
		c.Description = "" // RFC 6750 §3.1: a request without credentials gets no error information
	}
	return c
}
