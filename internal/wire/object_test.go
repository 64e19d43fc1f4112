package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzPayloadClaimsMatchMap holds the claim scanner to encoding/json: for
// any payload, every claim reads as it would from the decoded map, present
// or not, and a payload is refused exactly when the map decoder refuses it.
func FuzzPayloadClaimsMatchMap(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://as","aud":["a","b"],"exp":1.7e9,"scope":"a b","x":{"y":[1,"}"]}}`,
		`{"iss":"a","iss":"b"}`, `{"ISS":"a","iss":"b"}`, `{"n\u0061me":1}`, `{"exp":1e400}`, `{}`, `[]`,
		`{"iss":null,"sub":true,"jti":"\u00e9"}`, `{"aud":"x"} `, `{"a":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	names := []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "scp", "ISS", "name", "a", "x"}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]any
		mapErr := json.Unmarshal(b, &m)
		var typeErr *json.UnmarshalTypeError
		if errors.As(mapErr, &typeErr) {
			// A number out of float64 range: encoding/json refuses the whole
			// payload; the verifier refuses the claim only if it reads it (and
			// Claims() leaves it out). Nothing else may differ.
			mapErr = nil
		}
		var c Object
		ok := c.Parse(b)
		if ok != (mapErr == nil && m != nil) {
			t.Fatalf("Parse ok %v, map decoder err %v (map nil %v) for %q", ok, mapErr, m == nil, b)
		}
		if !ok {
			return
		}
		for _, name := range names {
			got, ok, gerr := c.Get(name)
			want, wok := m[name]
			if gerr != nil {
				continue // a value the verifier refuses (e.g. 1e400); the map decoder refused the payload above
			}
			if ok != wok || !reflect.DeepEqual(got, want) {
				t.Fatalf("claim %q: scanner %#v (%v), map %#v (%v) for %q", name, got, ok, want, wok, b)
			}
			// The unboxed readers agree with the map too.
			if s, isString, present := c.String(name); present != wok || isString && s != want {
				t.Fatalf("String(%q) = %q, %v, %v; map %#v for %q", name, s, isString, present, want, b)
			} else if _, wantString := want.(string); isString != wantString {
				t.Fatalf("String(%q) isString %v; map %#v for %q", name, isString, want, b)
			}
			if f, isNumber, present := c.Number(name); present != wok || isNumber && f != want {
				t.Fatalf("Number(%q) = %v, %v, %v; map %#v for %q", name, f, isNumber, present, want, b)
			} else if _, wantNumber := want.(float64); isNumber != wantNumber {
				t.Fatalf("Number(%q) isNumber %v; map %#v for %q", name, isNumber, want, b)
			}
		}
	})
}
