package scopes

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mcpauth/mcpauth/internal/jsontype"
)

// ErrInvalid is the category of every parsing failure: errors.Is(err,
// ErrInvalid) holds for a [*SyntaxError] and a [*ClaimTypeError].
var ErrInvalid = errors.New("scopes: invalid scope")

// SyntaxError reports a scope token with a character RFC 6749 §3.3 does not
// allow (control characters, space inside a token, '"', '\' or non-ASCII).
type SyntaxError struct {
	// Claim names where the value came from ("scope", "scp", ...), or "" for a
	// plain string passed to Parse.
	Claim string
	// Scope is the offending token.
	Scope string
	// Offset is the byte offset of the first disallowed character in the token.
	Offset int
}

// Error returns the message: what was expected and what was seen.
func (e *SyntaxError) Error() string {
	where := ""
	if e.Claim != "" {
		where = fmt.Sprintf(" in claim %q", e.Claim)
	}
	return fmt.Sprintf("scopes: scope %+q%s has a character RFC 6749 does not allow at byte %d (expected printable ASCII except space, '\"' and '\\')", e.Scope, where, e.Offset)
}

// Is reports whether target is [ErrInvalid].
func (e *SyntaxError) Is(target error) bool { return target == ErrInvalid }

// ClaimTypeError reports a scope claim whose JSON type is neither a string nor
// an array of strings.
type ClaimTypeError struct {
	Claim string // the claim name
	Got   string // the JSON type seen: "number", "object", "array with a number", ...
}

// Error returns the message: what was expected and what was seen.
func (e *ClaimTypeError) Error() string {
	return fmt.Sprintf("scopes: claim %q must be a space-delimited string or an array of strings, got %s", e.Claim, e.Got)
}

// Is reports whether target is [ErrInvalid].
func (e *ClaimTypeError) Is(target error) bool { return target == ErrInvalid }

// Parse parses an RFC 6749 §3.3 scope string: scope tokens separated by
// spaces. Runs of spaces and leading or trailing spaces are tolerated; any
// other character outside the scope-token grammar is an error. Parse applies
// no normalization; use [Normalizer.Parse] for that.
func Parse(s string) (Set, error) { return parseString("", s, nil) }

// MustParse is like [Parse] but panics on error. It is meant for scope lists
// written in source code.
func MustParse(s string) Set {
	set, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return set
}

// ValidToken reports whether tok is one well-formed scope token.
func ValidToken(tok string) bool { return tok != "" && badChar(tok) < 0 }

// badChar returns the offset of the first byte of tok outside
// scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), or -1.
func badChar(tok string) int {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return i
		}
	}
	return -1
}

func syntaxError(claim, tok string, off int) error {
	return &SyntaxError{Claim: claim, Scope: tok, Offset: off}
}

// countFields counts the space-separated fields of s.
func countFields(s string) int {
	n := 0
	inField := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			inField = false
		} else if !inField {
			inField = true
			n++
		}
	}
	return n
}

// parseString splits s on spaces, validates and (when n is not nil)
// normalizes each token.
func parseString(claim, s string, n *Normalizer) (Set, error) {
	out := make([]string, 0, countFields(s))
	out, err := appendFields(out, claim, s, n)
	if err != nil {
		return Set{}, err
	}
	return fromUnsorted(out), nil
}

func appendFields(out []string, claim, s string, n *Normalizer) ([]string, error) {
	for len(s) > 0 {
		i := strings.IndexByte(s, ' ')
		var tok string
		if i < 0 {
			tok, s = s, ""
		} else {
			tok, s = s[:i], s[i+1:]
		}
		if tok == "" {
			continue
		}
		var err error
		if out, err = n.appendToken(out, claim, tok); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fromValue reads a decoded JSON claim value: a space-delimited string or an
// array of strings (each of which may itself hold several space-delimited
// scopes, as some servers send).
func fromValue(claim string, v any, n *Normalizer) (Set, error) {
	switch v := v.(type) {
	case nil:
		return Set{}, nil
	case string:
		return parseString(claim, v, n)
	case []string:
		out := make([]string, 0, len(v))
		for _, s := range v {
			var err error
			if out, err = appendFields(out, claim, s, n); err != nil {
				return Set{}, err
			}
		}
		return fromUnsorted(out), nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return Set{}, &ClaimTypeError{Claim: claim, Got: "array with " + jsontype.Of(e)}
			}
			var err error
			if out, err = appendFields(out, claim, s, n); err != nil {
				return Set{}, err
			}
		}
		return fromUnsorted(out), nil
	default:
		return Set{}, &ClaimTypeError{Claim: claim, Got: jsontype.Of(v)}
	}
}
