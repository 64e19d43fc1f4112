package auth

import (
	"math"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/internal/jsontype"
	"github.com/mcpauth/mcpauth/internal/nearmiss"
	"github.com/mcpauth/mcpauth/internal/wire"
)

// claimSet is a token's claims, as a verifier reads them: Get returns a
// claim's value as encoding/json would decode it into any, whether it is
// present, and an error for a value that cannot be decoded; All returns
// every claim, for [Token.Claims]. A JWT's claims are a [wire.Object], an
// introspection response's a [claimMap].
type claimSet interface {
	Get(name string) (any, bool, error)
	All() map[string]any
}

// claimMap are claims already decoded.
type claimMap map[string]any

func (m claimMap) Get(name string) (any, bool, error) {
	v, ok := m[name]
	return v, ok, nil
}

func (m claimMap) All() map[string]any { return m }

// headerString reads a JOSE header parameter that must be a string when
// present.
func headerString(h *wire.Object, name string) (string, error) {
	if s, isString, present := h.String(name); isString || !present {
		return s, nil
	}
	v, _, err := h.Get(name)
	if v == nil && err == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok || err != nil {
		return "", fail(ReasonTokenMalformed, "the header parameter %q must be a string", name)
	}
	return s, nil
}

// checkClaims validates the registered claims of a verified payload and
// builds the Token.
// checkClaims validates the registered claims and fills t with them.
func (v *Verifier) checkClaims(t *Token, claims claimSet, is *issuer, raw string) (*Token, error) {
	now := v.now()
	exp, ok, err := numericDate(claims, "exp")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fail(ReasonExpired, "the token has no exp claim; access tokens must expire")
	}
	if !now.Before(exp.Add(v.leeway)) {
		return nil, fail(ReasonExpired, "the token expired at %s, now is %s (leeway %s)", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.leeway)
	}
	if nbf, ok, err := numericDate(claims, "nbf"); err != nil {
		return nil, err
	} else if ok && nbf.After(now.Add(v.leeway)) {
		return nil, fail(ReasonNotYetValid, "the token is not valid before %s, now is %s (leeway %s)", nbf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.leeway)
	}
	iat, iatOK, err := numericDate(claims, "iat")
	if err != nil {
		return nil, err
	}
	if iatOK && iat.After(now.Add(v.leeway)) {
		return nil, fail(ReasonNotYetValid, "the token was issued in the future, at %s; now is %s (leeway %s)", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.leeway)
	}
	aud, err := stringOrList(claims, "aud")
	if err != nil {
		return nil, err
	}
	if err := v.checkAudience(aud, is); err != nil {
		return nil, err
	}
	if err := v.tokenFromClaims(t, claims, raw); err != nil {
		return nil, err
	}
	t.Audience, t.Expiry = aud, exp
	if iatOK {
		t.IssuedAt = iat
	}
	return t, nil
}

// tokenFromClaims fills the fields common to JWT and introspected tokens.
func (v *Verifier) tokenFromClaims(t *Token, claims claimSet, raw string) error {
	t.claims, t.raw = claims, raw
	var err error
	if t.Issuer, err = optString(claims, "iss"); err != nil {
		return err
	}
	if t.Subject, err = optString(claims, "sub"); err != nil {
		return err
	}
	if t.Subject == "" {
		return fail(ReasonClaimInvalid, "the token has no sub claim")
	}
	t.subject = t.Issuer + "\x00" + t.Subject
	if t.ID, err = optString(claims, "jti"); err != nil {
		return err
	}
	for _, name := range [...]string{"client_id", "azp", "cid"} {
		if t.ClientID, err = optString(claims, name); err != nil {
			return err
		}
		if t.ClientID != "" {
			break
		}
	}
	if t.DPoPKeyThumbprint, err = boundKey(claims); err != nil {
		return err
	}
	if t.Scopes, err = v.norm.FromLookup(claims.Get); err != nil {
		return &Error{Reason: ReasonClaimInvalid, Description: strings.TrimPrefix(err.Error(), "scopes: "), Err: err}
	}
	return nil
}

// checkAudience requires one aud value to be an accepted audience.
func (v *Verifier) checkAudience(aud []string, is *issuer) error {
	for _, x := range aud {
		if v.audienceOK(x, v.audiences) || v.audienceOK(x, is.audiences) {
			return nil
		}
	}
	expected := append(append([]string(nil), v.audiences...), is.audiences...)
	ce := &ClaimError{Claim: "aud", Expected: expected, Actual: aud, Hint: nearmiss.Audience(aud, expected)}
	return &Error{Reason: ReasonAudienceMismatch, Description: "the token is not for this resource: " + ce.Error(), Err: ce}
}

func (v *Verifier) audienceOK(aud string, accepted []string) bool {
	for _, acc := range accepted {
		if aud == acc || (v.allowSlash && strings.TrimSuffix(aud, "/") == strings.TrimSuffix(acc, "/")) {
			return true
		}
	}
	return false
}

// maxNumericDate is 9999-12-31, a bound that keeps time arithmetic exact.
const maxNumericDate = 253402300799

func numericDate(claims claimSet, name string) (time.Time, bool, error) {
	if o, ok := claims.(*wire.Object); ok {
		if f, isNum, _ := o.Number(name); isNum && f >= 0 {
			return dateOf(f), true, nil
		}
	}
	v, _, err := claims.Get(name)
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
	return dateOf(f), true, nil
}

// dateOf is the time of a NumericDate, at most 9999-12-31.
func dateOf(f float64) time.Time {
	sec, frac := math.Modf(min(f, maxNumericDate))
	return time.Unix(int64(sec), int64(frac*1e9))
}

func stringOrList(claims claimSet, name string) ([]string, error) {
	if o, ok := claims.(*wire.Object); ok {
		if s, isString, present := o.String(name); isString {
			return []string{s}, nil
		} else if !present {
			return nil, nil
		}
	}
	val, _, err := claims.Get(name)
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
	if o, ok := claims.(*wire.Object); ok { // unboxed; the slow path decides null and other types
		if s, isString, present := o.String(name); isString || !present {
			return s, nil
		}
	}
	val, _, err := claims.Get(name)
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
