package wire

import (
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"unsafe"
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
	small   [12]rawMember // members' storage for the usual object, in the same allocation
	names   []byte        // the decoded names of escaped or non-ASCII member names

	once    sync.Once
	decoded map[string]any
}

// rawMember is a member of a JSON object, as offsets: its decoded name (in
// raw, or in names when it was escaped), and its value, still encoded, in
// raw. Offsets keep an object's members small (a JWT payload's fit in the
// Object itself).
type rawMember struct {
	nameStart, nameEnd int32
	valStart, valEnd   int32
	escaped            bool // the name is in names
}

func (p *Object) name(m rawMember) []byte {
	if m.escaped {
		return p.names[m.nameStart:m.nameEnd]
	}
	return p.raw[m.nameStart:m.nameEnd]
}

func (p *Object) value(m rawMember) []byte { return p.raw[m.valStart:m.valEnd] }

// ParseObject checks that b (a JOSE header or a JWT payload) is one valid
// JSON object and splits it into members; ok is false for anything else.
// The Object and the strings it returns share b's bytes: b must not change
// while they are in use.
func ParseObject(b []byte) (o *Object, ok bool) {
	if !json.Valid(b) {
		return nil, false
	}
	if len(b) > math.MaxInt32 {
		return nil, false
	}
	o = &Object{raw: b}
	ok = o.scanExact() // on valid JSON, it fails only for other values than an object
	if !ok {
		return nil, false
	}
	return o, true
}

// scanExact splits a valid JSON object into members with exact names,
// decoding names that are escaped or not ASCII; ok is false for anything but
// an object. A repeated name is kept twice: Get reads the last one, as the
// map decoder does, so no member is compared with the others and the cost
// stays linear in len(b).
func (p *Object) scanExact() bool {
	b := p.raw
	p.members = p.small[:0]
	offset := func(sub []byte) int32 { // sub lies within b
		return int32(cap(b) - cap(sub))
	}
	return isObject(b, func(name []byte, plain bool, value []byte) bool {
		m := rawMember{nameStart: offset(name), valStart: offset(value)}
		m.nameEnd, m.valEnd = m.nameStart+int32(len(name)), m.valStart+int32(len(value))
		if !plain {
			start := len(p.names)
			var ok bool
			if p.names, ok = appendUnquoted(p.names, name); !ok {
				return false
			}
			m.nameStart, m.nameEnd, m.escaped = int32(start), int32(len(p.names)), true
		}
		p.members = append(p.members, m)
		return true
	})
}

// Get returns the value of the member name as encoding/json decodes it into
// any, whether it is present, and the error of a value that cannot be
// decoded.
func (p *Object) Get(name string) (any, bool, error) {
	m, ok := p.last(name) // the last one wins
	if !ok {
		return nil, false, nil
	}
	v, err := decodeValue(p.value(m))
	return v, true, err
}

// String returns the value of the member name when it is a JSON string,
// without boxing it; isString is false for a member of another type (null
// included) and for an absent one, which present tells apart.
func (p *Object) String(name string) (s string, isString, present bool) {
	m, ok := p.last(name)
	if !ok {
		return "", false, false
	}
	v := p.value(m)
	if v[0] != '"' {
		return "", false, true
	}
	if end, plain := ScanString(v, 0); plain && end == len(v) {
		// No escapes: the string is its bytes, shared rather than copied.
		return unsafe.String(unsafe.SliceData(v[1:]), len(v)-2), true, true
	}
	s, err := DecodeString(v)
	return s, err == nil, true
}

// Number returns the value of the member name when it is a JSON number
// within float64's range, without boxing it; isNumber is false otherwise.
func (p *Object) Number(name string) (f float64, isNumber, present bool) {
	m, ok := p.last(name)
	if !ok {
		return 0, false, false
	}
	v := p.value(m)
	if c := v[0]; c != '-' && (c < '0' || c > '9') {
		return 0, false, true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil, true
}

// last returns the last member named name: the one a map decoder keeps.
func (p *Object) last(name string) (rawMember, bool) {
	for i := len(p.members) - 1; i >= 0; i-- {
		m := p.members[i]
		if int(m.nameEnd-m.nameStart) == len(name) && string(p.name(m)) == name { // lengths first: most names differ there
			return m, true
		}
	}
	return rawMember{}, false
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
