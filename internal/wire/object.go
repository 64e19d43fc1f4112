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
	raw   []byte
	n     int           // members in small
	small [12]rawMember // the members of the usual object, in the Object itself
	more  []rawMember   // all the members, when there are more than small holds
	names []byte        // the decoded names of escaped or non-ASCII member names

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

// Parse checks that b (a JOSE header or a JWT payload) is one valid JSON
// object and splits it into members of p, a zero Object; it reports false
// for anything else. p and the strings it returns share b's bytes: b must
// not change while they are in use.
func (p *Object) Parse(b []byte) bool {
	if len(b) > math.MaxInt32 {
		return false
	}
	p.raw = b
	return p.scanExact() // validates b as encoding/json's Valid would, in the same pass
}

// scanExact splits a valid JSON object into members with exact names,
// decoding names that are escaped or not ASCII; ok is false for anything but
// an object. A repeated name is kept twice: Get reads the last one, as the
// map decoder does, so no member is compared with the others and the cost
// stays linear in len(b).
func (p *Object) scanExact() bool {
	b := p.raw
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipWS(b, i+1) == len(b)
	}
	for {
		end, plain := validString(b, i)
		if end < 0 {
			return false
		}
		m := rawMember{nameStart: int32(i + 1), nameEnd: int32(end - 1)}
		if !plain {
			start := len(p.names)
			var ok bool
			if p.names, ok = appendUnquoted(p.names, b[i+1:end-1]); !ok {
				return false
			}
			m.nameStart, m.nameEnd, m.escaped = int32(start), int32(len(p.names)), true
		}
		if i = skipWS(b, end); i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		vend := validValue(b, i)
		if vend < 0 {
			return false
		}
		m.valStart, m.valEnd = int32(i), int32(vend)
		p.add(m)
		if i = skipWS(b, vend); i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return skipWS(b, i+1) == len(b)
		default:
			return false
		}
	}
}

func (p *Object) add(m rawMember) {
	switch {
	case p.more != nil:
		p.more = append(p.more, m)
	case p.n < len(p.small):
		p.small[p.n] = m
		p.n++
	default:
		p.more = append(append(make([]rawMember, 0, 2*len(p.small)), p.small[:p.n]...), m)
	}
}

// members returns the members, in order.
func (p *Object) members() []rawMember {
	if p.more != nil {
		return p.more
	}
	return p.small[:p.n]
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
	ms := p.members()
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
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
