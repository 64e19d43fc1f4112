package auth

import (
	"context"
	"encoding/base64"
	"math"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/mcpauth/mcpauth/internal/jsontype"
)

var b64 = base64.RawURLEncoding.Strict()

// verifyJWT checks a compact JWS access token: structure, algorithm,
// issuer, signature with the issuer's key, then the claims.
func (a *Authenticator) verifyJWT(ctx context.Context, raw string) (*Token, error) {
	d1 := strings.IndexByte(raw, '.')
	d2 := d1 + 1 + strings.IndexByte(raw[d1+1:], '.')
	if d2 <= d1 {
		return nil, fail(ReasonTokenMalformed, "expected a JWT of three dot-separated parts")
	}
	if extra := strings.Count(raw[d2+1:], "."); extra > 0 {
		if extra == 2 {
			return nil, fail(ReasonTokenMalformed, "got an encrypted JWT (JWE, five parts) where a signed JWT (JWS, three parts) was expected")
		}
		return nil, fail(ReasonTokenMalformed, "expected a JWT of three dot-separated parts, got %d", extra+3)
	}

	// Only alg, kid, typ, cty, enc and crit are read. jku, x5u, jwk and x5c
	// are ignored: keys come only from the trusted issuer's key set.
	hdr, err := decodeObject(raw[:d1], "JOSE header")
	if err != nil {
		return nil, err
	}
	var h struct{ Alg, Kid, Typ, Cty, Enc string }
	for _, p := range [...]struct {
		name string
		dst  *string
	}{{"alg", &h.Alg}, {"kid", &h.Kid}, {"typ", &h.Typ}, {"cty", &h.Cty}, {"enc", &h.Enc}} {
		if *p.dst, err = headerString(hdr, p.name); err != nil {
			return nil, err
		}
	}
	crit, _, _ := hdr.get("crit")
	switch {
	case h.Enc != "":
		return nil, fail(ReasonTokenMalformed, "the header has \"enc\": an encrypted token where a signed one was expected")
	case strings.EqualFold(h.Cty, "JWT"):
		return nil, fail(ReasonTokenMalformed, "nested JWTs (cty \"JWT\") are not accepted")
	case crit != nil:
		return nil, fail(ReasonTokenMalformed, "the header lists critical extensions (crit) this server does not understand")
	}
	verifier, ok := a.verifiers[h.Alg]
	if !ok {
		return nil, a.algorithmError(h.Alg)
	}
	if a.requireTyp && !strings.EqualFold(h.Typ, "at+jwt") && !strings.EqualFold(h.Typ, "application/at+jwt") {
		return nil, fail(ReasonTypInvalid, "typ %q is not \"at+jwt\" (RFC 9068 §2.1)", h.Typ)
	}

	claims, err := decodeObject(raw[d1+1:d2], "payload")
	if err != nil {
		return nil, err
	}
	sig, err := b64.DecodeString(raw[d2+1:])
	if err != nil || len(sig) == 0 {
		return nil, fail(ReasonTokenMalformed, "the signature is not unpadded base64url")
	}

	issv, _, _ := claims.get("iss")
	iss, _ := issv.(string)
	is := a.issuers[iss]
	if is == nil {
		return nil, &Error{Reason: ReasonIssuerUntrusted, Description: (&IssuerError{Trusted: a.trusted, Actual: iss}).Error()}
	}
	keys, err := is.keys.keys(ctx, h.Kid, h.Alg)
	if err != nil {
		return nil, err
	}
	input := []byte(raw[:d2])
	verified := false
	for _, k := range keys {
		if verifier.Verify(input, sig, k.raw) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, fail(ReasonSignatureInvalid, "the %s signature does not verify with the issuer's key %q", h.Alg, h.Kid)
	}
	return a.checkClaims(claims, &claimsMap{payload: claims.payload}, is, raw)
}

func (a *Authenticator) algorithmError(alg string) *Error {
	switch {
	case strings.EqualFold(alg, "none"):
		return fail(ReasonAlgorithmNotAllowed, "alg %q: unsigned tokens are never accepted", alg)
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return fail(ReasonAlgorithmNotAllowed, "alg %q: HMAC tokens are never accepted by a resource server, which holds only public keys", alg)
	case alg == "":
		return fail(ReasonAlgorithmNotAllowed, "the header has no alg")
	}
	return fail(ReasonAlgorithmNotAllowed, "alg %q is not in the allowlist %s", alg, quoteAll(a.algList))
}

// checkClaims validates the registered claims of a verified payload and
// builds the Token.
func (a *Authenticator) checkClaims(claims claimSet, all *claimsMap, is *issuer, raw string) (*Token, error) {
	now := a.now()
	exp, ok, err := numericDate(claims, "exp")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fail(ReasonExpired, "the token has no exp claim; access tokens must expire")
	}
	if !now.Before(exp.Add(a.leeway)) {
		return nil, fail(ReasonExpired, "the token expired at %s, now is %s (leeway %s)", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), a.leeway)
	}
	if nbf, ok, err := numericDate(claims, "nbf"); err != nil {
		return nil, err
	} else if ok && nbf.After(now.Add(a.leeway)) {
		return nil, fail(ReasonNotYetValid, "the token is not valid before %s, now is %s (leeway %s)", nbf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), a.leeway)
	}
	iat, iatOK, err := numericDate(claims, "iat")
	if err != nil {
		return nil, err
	}
	if iatOK && iat.After(now.Add(a.leeway)) {
		return nil, fail(ReasonNotYetValid, "the token was issued in the future, at %s; now is %s (leeway %s)", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), a.leeway)
	}
	aud, err := stringOrList(claims, "aud")
	if err != nil {
		return nil, err
	}
	if err := a.checkAudience(aud, is); err != nil {
		return nil, err
	}
	t, err := a.tokenFromClaims(claims, all, raw)
	if err != nil {
		return nil, err
	}
	t.Audience, t.Expiry = aud, exp
	if iatOK {
		t.IssuedAt = iat
	}
	return t, nil
}

// tokenFromClaims fills the fields common to JWT and introspected tokens.
func (a *Authenticator) tokenFromClaims(claims claimSet, all *claimsMap, raw string) (*Token, error) {
	t := &Token{claims: all, raw: raw}
	var err error
	if t.Issuer, err = optString(claims, "iss"); err != nil {
		return nil, err
	}
	if t.Subject, err = optString(claims, "sub"); err != nil {
		return nil, err
	}
	if t.Subject == "" {
		return nil, fail(ReasonClaimInvalid, "the token has no sub claim")
	}
	if t.ID, err = optString(claims, "jti"); err != nil {
		return nil, err
	}
	for _, name := range [...]string{"client_id", "azp", "cid"} {
		if t.ClientID, err = optString(claims, name); err != nil {
			return nil, err
		}
		if t.ClientID != "" {
			break
		}
	}
	if t.Scopes, err = a.norm.FromLookup(claims.get); err != nil {
		return nil, &Error{Reason: ReasonClaimInvalid, Description: strings.TrimPrefix(err.Error(), "scopes: "), Err: err}
	}
	return t, nil
}

// checkAudience requires one aud value to be an accepted audience.
func (a *Authenticator) checkAudience(aud []string, is *issuer) error {
	for _, v := range aud {
		if a.audienceOK(v, a.audiences) || a.audienceOK(v, is.audiences) {
			return nil
		}
	}
	expected := append(append([]string(nil), a.audiences...), is.audiences...)
	ae := NewAudienceError(expected, aud)
	return &Error{Reason: ReasonAudienceMismatch, Description: "the token is not for this resource: " + ae.Error(), Err: ae}
}

func (a *Authenticator) audienceOK(v string, accepted []string) bool {
	for _, acc := range accepted {
		if v == acc || (a.allowSlash && strings.TrimSuffix(v, "/") == strings.TrimSuffix(acc, "/")) {
			return true
		}
	}
	return false
}

// NewAudienceError compares the audiences a token carries (actual) with the
// ones accepted (expected) and names the near miss, if there is one, in
// Hint: [AudienceTrailingSlash] or [AudienceOriginOnly].
func NewAudienceError(expected, actual []string) *AudienceError {
	return &AudienceError{Expected: expected, Actual: actual, Hint: audienceHint(actual, expected)}
}

func audienceHint(actual, expected []string) string {
	for _, v := range actual {
		for _, e := range expected {
			if strings.TrimSuffix(v, "/") == strings.TrimSuffix(e, "/") {
				return AudienceTrailingSlash
			}
		}
	}
	for _, v := range actual {
		for _, e := range expected {
			if originOf(e) == strings.TrimSuffix(v, "/") || originOf(v) == strings.TrimSuffix(e, "/") {
				return AudienceOriginOnly
			}
		}
	}
	return ""
}

// originOf returns scheme://host of an absolute URL, or "".
func originOf(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(u[i+3:], '/')
	if j < 0 {
		return ""
	}
	return u[:i+3+j]
}

// maxNumericDate is 9999-12-31, a bound that keeps time arithmetic exact.
const maxNumericDate = 253402300799

func numericDate(claims claimSet, name string) (time.Time, bool, error) {
	v, _, err := claims.get(name)
	if err != nil {
		return time.Time{}, false, fail(ReasonClaimInvalid, "%s cannot be decoded", name)
	}
	if v == nil {
		return time.Time{}, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || math.IsNaN(f) || f < 0 {
		return time.Time{}, false, fail(ReasonClaimInvalid, "%s must be a non-negative number (seconds since 1970), got %s", name, jsontype.Of(v))
	}
	f = min(f, maxNumericDate)
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func stringOrList(claims claimSet, name string) ([]string, error) {
	val, _, err := claims.get(name)
	if err != nil {
		return nil, fail(ReasonClaimInvalid, "%s cannot be decoded", name)
	}
	switch v := val.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fail(ReasonClaimInvalid, "%s must be a string or an array of strings, got an array with %s", name, jsontype.Of(e))
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fail(ReasonClaimInvalid, "%s must be a string or an array of strings, got %s", name, jsontype.Of(v))
	}
}

func optString(claims claimSet, name string) (string, error) {
	val, _, err := claims.get(name)
	if err != nil {
		return "", fail(ReasonClaimInvalid, "%s cannot be decoded", name)
	}
	switch v := val.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fail(ReasonClaimInvalid, "%s must be a string, got %s", name, jsontype.Of(v))
	}
}

// newVerifiers returns a jwx signature verifier for each allowed algorithm,
// refusing none and HMAC whatever the configuration says.
func newVerifiers(algs []string) (map[string]jws.Verifier, error) {
	out := make(map[string]jws.Verifier, len(algs))
	for _, alg := range algs {
		if strings.EqualFold(alg, "none") || strings.HasPrefix(strings.ToUpper(alg), "HS") {
			return nil, fail(ReasonAlgorithmNotAllowed, "Config.Algorithms: %q is never allowed for access tokens verified with public keys", alg)
		}
		v, err := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
		if err != nil {
			return nil, fail(ReasonAlgorithmNotAllowed, "Config.Algorithms: %q is not a JWS algorithm jwx supports", alg)
		}
		out[alg] = v
	}
	return out, nil
}
