package scopes

import (
	"encoding/json"
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "a", "notes:read notes:write", "  a  b ", "a,b+c", `a"b`, "a\\b", "é", "api://x/y", "\x00", "a\tb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for v := range set.All() {
			if !ValidToken(v) {
				t.Fatalf("Parse(%q) produced invalid token %q", s, v)
			}
		}
		again, err := Parse(set.String())
		if err != nil || !again.Equal(set) || again.String() != set.String() {
			t.Fatalf("round trip of %q: %q -> %q, %v", s, set.String(), again.String(), err)
		}
	})
}

func FuzzFromClaims(f *testing.F) {
	for _, s := range []string{
		`{"scope":"a b"}`, `{"scp":["a","b"]}`, `{"scope":1}`, `{"scope":[1,"a"]}`,
		`{"permissions":["read:tools"]}`, `{"scopes":null}`, `{"scope":"a,b+c"}`, `{"scp":"api://app/x"}`,
	} {
		f.Add([]byte(s))
	}
	n := MustNormalizer(Config{Delimiters: ",+", StripPrefixes: []string{"api://app/"}, FoldCase: true,
		Aliases: map[string]string{"x": "y"}, Implies: map[string][]string{"y": {"z"}}})
	f.Fuzz(func(t *testing.T, b []byte) {
		var claims map[string]any
		if json.Unmarshal(b, &claims) != nil {
			return
		}
		for _, norm := range []*Normalizer{nil, n} {
			set, err := norm.FromClaims(claims)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v does not wrap ErrInvalid", err)
				}
				continue
			}
			if again, err := Parse(set.String()); err != nil || !again.Equal(set) {
				t.Fatalf("normalized set %q does not round-trip: %v", set.String(), err)
			}
			_ = norm.Explain(set, All("notes:write"))
		}
	})
}

func FuzzParseRequirement(f *testing.F) {
	for _, s := range []string{"", "a", "a | b c", "a | | b", "|", "a |b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequirement(s)
		if err != nil {
			return
		}
		again, err := ParseRequirement(r.String())
		if err != nil || again.String() != r.String() {
			t.Fatalf("round trip of %q: %q -> %q, %v", s, r.String(), again.String(), err)
		}
	})
}
