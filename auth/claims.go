package auth

import (
	"encoding/json"
	"strconv"
	"sync"
)

// claimSet is a token's claims, as a verifier reads them: get returns a
// claim's value as encoding/json would decode it into any, whether it is
// present, and an error for a value that cannot be decoded.
type claimSet interface {
	get(name string) (any, bool, error)
}

// mapClaims are claims already decoded (introspection responses).
type mapClaims map[string]any

func (m mapClaims) get(name string) (any, bool, error) {
	v, ok := m[name]
	return v, ok, nil
}

// payloadClaims are a JWT payload split into its members without decoding
// them: a verifier decodes only the handful of claims it checks, and the
// whole map only when someone asks for [Token.Claims]. Member names are
// compared exactly, as a map would, and the last of a repeated name wins,
// as in a map. One difference remains, on purpose: a
// number out of float64 range makes encoding/json refuse a whole payload,
// while here it refuses only the claim that holds it, if the verifier reads
// it (exp, nbf, iat); Claims leaves such a claim out.
type payloadClaims struct {
	payload []byte
	members []rawMember
}

// rawMember is a member of a JSON object: the decoded name, and the value
// still encoded.
type rawMember struct{ name, value []byte }

// parseObject checks that b (the JOSE header or the payload, as what says)
// is one valid JSON object and splits it into members.
func parseObject(b []byte, what string) (*payloadClaims, error) {
	if !json.Valid(b) {
		return nil, fail(ReasonTokenMalformed, "the %s is not a JSON object", what)
	}
	ms, ok := scanExact(b) // on valid JSON, it fails only for other values than an object
	if !ok {
		return nil, fail(ReasonTokenMalformed, "the %s is not a JSON object", what)
	}
	return &payloadClaims{payload: b, members: ms}, nil
}

// decodeObject base64url-decodes a token segment and splits its JSON object.
func decodeObject(seg, what string) (*payloadClaims, error) {
	b, err := b64.DecodeString(seg)
	if err != nil {
		return nil, fail(ReasonTokenMalformed, "the %s is not unpadded base64url", what)
	}
	return parseObject(b, what)
}

// headerString reads a JOSE header parameter that must be a string when
// present.
func headerString(h claimSet, name string) (string, error) {
	v, _, err := h.get(name)
	if v == nil && err == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok || err != nil {
		return "", fail(ReasonTokenMalformed, "the header parameter %q must be a string", name)
	}
	return s, nil
}

// scanExact splits a valid JSON object into members with exact names,
// decoding names that are escaped or not ASCII; ok is false for anything but
// an object. A repeated name is kept twice: get reads the last one, as the
// map decoder does, so no member is compared with the others and the cost
// stays linear in len(b).
func scanExact(b []byte) ([]rawMember, bool) {
	out := make([]rawMember, 0, 12)
	ok := isObject(b, func(name []byte, plain bool, value []byte) bool {
		if !plain {
			d, ok := appendUnquoted(make([]byte, 0, len(name)), name)
			if !ok {
				return false
			}
			name = d
		}
		out = append(out, rawMember{name: name, value: value})
		return true
	})
	return out, ok
}

func (p *payloadClaims) get(name string) (any, bool, error) {
	for i := len(p.members) - 1; i >= 0; i-- { // the last one wins
		if m := p.members[i]; string(m.name) == name {
			v, err := decodeValue(m.value)
			return v, true, err
		}
	}
	return nil, false, nil
}

// decodeValue decodes one JSON value as encoding/json decodes into any,
// without encoding/json for plain strings, numbers, booleans and null.
func decodeValue(raw []byte) (any, error) {
	switch raw[0] {
	case '"':
		return decodeString(raw)
	case 'n':
		return nil, nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case '{', '[':
		var v any
		err := json.Unmarshal(raw, &v)
		return v, err
	default:
		return strconv.ParseFloat(string(raw), 64)
	}
}

// claimsMap decodes the whole payload, once, for [Token.Claims].
type claimsMap struct {
	once    sync.Once
	payload []byte
	m       map[string]any
}

func (c *claimsMap) get() map[string]any {
	c.once.Do(func() {
		if c.m == nil {
			_ = json.Unmarshal(c.payload, &c.m)
		}
	})
	return c.m
}
