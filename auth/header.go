package auth

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxFormPeek bounds how much of a form-encoded body is read to look for a
// token in it. The body is restored byte for byte afterwards.
const maxFormPeek = 64 << 10

// bearerToken returns the bearer token of r, taken from the Authorization
// header only. It refuses, with [ReasonRequestInvalid], a token in the URI
// query or in a form-encoded body (RFC 6750 §2.2-2.3; OAuth 2.1 forbids the
// query) and two Authorization headers; no credentials, or credentials of
// another scheme, is [ReasonTokenMissing]. The scheme name is
// case-insensitive.
func bearerToken(r *http.Request) (string, error) {
	tok, _, err := bearerCredentials(r)
	if err != nil {
		return "", err
	}
	return tok, checkB64Token(tok)
}

// credentialScheme is the Authorization scheme a token came with.
type credentialScheme uint8

const (
	schemeBearer credentialScheme = iota
	schemeDPoP                    // RFC 9449 §7.1: a DPoP-bound token, with a proof in the DPoP header
)

// bearerCredentials is bearerToken without the b64token check of the
// token's characters, for a caller that knows the token already (the
// validated-token cache holds these exact bytes) or checks it later. It
// also says which scheme the token came with: Bearer or DPoP.
func bearerCredentials(r *http.Request) (string, credentialScheme, error) {
	if r.URL != nil && strings.Contains(r.URL.RawQuery, "access_token") {
		if q, err := url.ParseQuery(r.URL.RawQuery); err != nil || q.Has("access_token") {
			return "", 0, fail(ReasonRequestInvalid, "a token in the URI query is not accepted; send it in the Authorization header")
		}
	}
	if err := refuseFormToken(r); err != nil {
		return "", 0, err
	}
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", 0, fail(ReasonTokenMissing, "no Authorization header")
	case 1:
	default:
		return "", 0, fail(ReasonRequestInvalid, "%d Authorization headers; send exactly one", len(vals))
	}
	return parseCredentials(vals[0])
}

// parseCredentials extracts the token from an Authorization header value
// of the Bearer scheme (RFC 6750 §2.1) or the DPoP scheme (RFC 9449 §7.1):
// the scheme name in any case, one or more spaces, then the token, whose
// characters checkB64Token checks.
func parseCredentials(v string) (string, credentialScheme, error) {
	name, rest, _ := strings.Cut(v, " ")
	scheme := schemeBearer
	switch {
	case strings.EqualFold(name, "Bearer"):
	case strings.EqualFold(name, "DPoP"):
		scheme = schemeDPoP
	case name == "":
		return "", 0, fail(ReasonTokenMissing, "empty Authorization header")
	default:
		return "", 0, fail(ReasonTokenMissing, "the Authorization scheme is neither Bearer nor DPoP")
	}
	tok := strings.Trim(rest, " ")
	if tok == "" {
		return "", 0, fail(ReasonRequestInvalid, "the %s credentials are empty", name)
	}
	return tok, scheme, nil
}

// checkB64Token refuses a token with characters outside RFC 6750's
// b64token syntax.
func checkB64Token(tok string) error {
	if !isB64Token(tok) {
		return fail(ReasonTokenMalformed, "the bearer token has characters outside RFC 6750's b64token syntax")
	}
	return nil
}

// isB64Token reports whether s matches 1*( ALPHA / DIGIT / "-" / "." / "_" /
// "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && b64TokenChar[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// b64TokenChar marks the characters of RFC 6750's b64token except '='.
var b64TokenChar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// refuseFormToken refuses a form-encoded body with an access_token
// parameter, reading at most maxFormPeek bytes and restoring the body.
func refuseFormToken(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	const form = "application/x-www-form-urlencoded"
	ct := r.Header.Get("Content-Type")
	if len(ct) < len(form) || !strings.EqualFold(ct[:len(form)], form) {
		return nil // the JSON of every MCP request is not even parsed
	}
	if mt, _, _ := mime.ParseMediaType(ct); mt != form {
		return nil
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxFormPeek))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
	if err != nil {
		return fail(ReasonRequestInvalid, "the request body cannot be read")
	}
	if !bytes.Contains(buf, []byte("access_token")) {
		return nil
	}
	if q, err := url.ParseQuery(string(buf)); err != nil || q.Has("access_token") {
		return fail(ReasonRequestInvalid, "a token in the request body is not accepted; send it in the Authorization header")
	}
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
