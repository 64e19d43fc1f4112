package wire

import (
	"encoding/json"
	"strconv"
	"sync"
)

// Object is a JSON object (a JWT payload or JOSE header) split into its
// members without decoding them: a verifier decodes only the handful of
// claims it checks, and the whole object only when someone asks for
// all of them (the Claims of a token), once. Member names are
// compared exactly, as a map would, and the last of a repeated name wins,
// as in a map. One difference remains, on purpose: a
// number out of float64 range makes encoding/json refuse a whole payload,
// while here it refuses only the claim that holds it, if the verifier reads
// it (exp, nbf, iat); Claims leaves such a claim out.
type Object struct {
	raw     []byte
	members []rawMember

	once    sync.Once
	decoded map[string]any
}

// rawMember is a member of a JSON object: the decoded name, and the value
// still encoded.
type rawMember struct{ name, value []byte }

// ParseObject checks that b (a JOSE header or a JWT payload) is one valid
// JSON object and splits it into members; ok is false for anything else.
func ParseObject(b []byte) (o *Object, ok bool) {
	if !json.Valid(b) {
		return nil, false
	}
	ms, ok := scanExact(b) // on valid JSON, it fails only for other values than an object
	if !ok {
		return nil, false
	}
	return &Object{raw: b, members: ms}, true
}

// scanExact splits a valid JSON object into members with exact names,
// decoding names that are escaped or not ASCII; ok is false for anything but
// an object. A repeated name is kept twice: Get reads the last one, as the
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

// Get returns the value of the member name as encoding/json decodes it into
// any, whether it is present, and the error of a value that cannot be
// decoded.
func (p *Object) Get(name string) (any, bool, error) {
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
		return DecodeString(raw)
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

// All decodes the whole object, once. A member encoding/json cannot decode
// (a number out of range) leaves the map nil. Do not modify the map.
func (p *Object) All() map[string]any {
	p.once.Do(func() { _ = json.Unmarshal(p.raw, &p.decoded) })
	return p.decoded
}
