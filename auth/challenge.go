package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Challenge is the Bearer WWW-Authenticate challenge of RFC 6750 §3 with the
// RFC 9728 resource_metadata parameter.
type Challenge struct {
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
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString("Bearer")
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

// ErrChallengeSyntax is returned by [ParseChallenge] for a header that is not
// one well-formed Bearer challenge.
var ErrChallengeSyntax = errors.New("auth: malformed Bearer challenge")

// ParseChallenge parses a WWW-Authenticate header value holding one Bearer
// challenge into its auth-params. It is strict, as a client testing a
// server should be: the scheme must be Bearer, every value quoted, no
// parameter repeated.
func ParseChallenge(h string) (map[string]string, error) {
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, fmt.Errorf("%w: scheme %q is not Bearer", ErrChallengeSyntax, scheme)
	}
	params := map[string]string{}
	rest = strings.TrimLeft(rest, " ")
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%w: expected name=\"value\" at %q", ErrChallengeSyntax, rest)
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = rest[eq+1:]
		if !strings.HasPrefix(rest, `"`) {
			return nil, fmt.Errorf("%w: value of %s is not quoted", ErrChallengeSyntax, name)
		}
		var v strings.Builder
		i := 1
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
			}
			v.WriteByte(rest[i])
		}
		if i >= len(rest) {
			return nil, fmt.Errorf("%w: unterminated value of %s", ErrChallengeSyntax, name)
		}
		if _, dup := params[name]; dup {
			return nil, fmt.Errorf("%w: parameter %s appears twice", ErrChallengeSyntax, name)
		}
		params[name] = v.String()
		rest = strings.TrimLeft(rest[i+1:], " ")
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Errorf("%w: expected ',' after %s", ErrChallengeSyntax, name)
			}
			rest = strings.TrimLeft(rest[1:], " ")
		}
	}
	return params, nil
}
