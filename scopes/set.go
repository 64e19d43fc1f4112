package scopes

import (
	"encoding/json"
	"iter"
	"slices"
	"strings"
)

// Set is an immutable set of scope tokens (RFC 6749 §3.3). Its elements are
// kept sorted and free of duplicates, so two Sets with the same members have
// the same String form and iterate in the same order. The zero Set is empty and
// ready to use. A Set is a value: copying it is cheap and no method changes it.
type Set struct {
	s []string // sorted, unique; never modified after construction
}

// New returns the Set of the given scope tokens. Duplicates are dropped and
// empty strings ignored; the tokens are not validated (use [Parse] for text
// from the wire).
func New(scopes ...string) Set {
	s := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		if sc != "" {
			s = append(s, sc)
		}
	}
	return fromUnsorted(s)
}

// fromUnsorted takes ownership of s, sorts it and removes duplicates.
func fromUnsorted(s []string) Set {
	if len(s) == 0 {
		return Set{}
	}
	if len(s) > 1 {
		slices.Sort(s)
		s = slices.Compact(s)
	}
	return Set{s: s}
}

// Len reports how many scopes the Set holds.
func (s Set) Len() int { return len(s.s) }

// IsEmpty reports whether the Set holds no scope.
func (s Set) IsEmpty() bool { return len(s.s) == 0 }

// Contains reports whether scope is a member of the Set. It does not allocate.
func (s Set) Contains(scope string) bool {
	if len(s.s) <= 8 {
		for _, v := range s.s {
			if v == scope {
				return true
			}
		}
		return false
	}
	_, ok := slices.BinarySearch(s.s, scope)
	return ok
}

// ContainsAll reports whether every member of other is in s.
func (s Set) ContainsAll(other Set) bool {
	for _, v := range other.s {
		if !s.Contains(v) {
			return false
		}
	}
	return true
}

// Slice returns the members in sorted order. The caller owns the result.
func (s Set) Slice() []string { return slices.Clone(s.s) }

// All iterates over the members in sorted order.
func (s Set) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, v := range s.s {
			if !yield(v) {
				return
			}
		}
	}
}

// Union returns the Set of scopes in s or in other.
func (s Set) Union(other Set) Set {
	if other.IsEmpty() {
		return s
	}
	if s.IsEmpty() {
		return other
	}
	out := make([]string, 0, len(s.s)+len(other.s))
	out = append(out, s.s...)
	out = append(out, other.s...)
	return fromUnsorted(out)
}

// Difference returns the Set of scopes in s and not in other.
func (s Set) Difference(other Set) Set {
	var out []string
	for _, v := range s.s {
		if !other.Contains(v) {
			out = append(out, v)
		}
	}
	return Set{s: out}
}

// Without returns s minus the named scopes.
func (s Set) Without(scopes ...string) Set { return s.Difference(New(scopes...)) }

// Equal reports whether s and other have the same members.
func (s Set) Equal(other Set) bool { return slices.Equal(s.s, other.s) }

// String returns the members in sorted order joined by single spaces: the
// RFC 6749 form used in token requests, in the scope claim and in the scope
// parameter of a WWW-Authenticate challenge. For a Set whose members are valid
// scope tokens, Parse(s.String()) returns a Set equal to s.
func (s Set) String() string { return strings.Join(s.s, " ") }

// MarshalJSON encodes the Set as a JSON array of strings in sorted order.
func (s Set) MarshalJSON() ([]byte, error) {
	if s.s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(s.s)
}

// UnmarshalJSON decodes a JSON array of scope tokens or an RFC 6749
// space-delimited string, validating each token.
func (s *Set) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	set, err := fromValue("json", v, nil)
	if err != nil {
		return err
	}
	*s = set
	return nil
}
