// Package challenge parses a WWW-Authenticate Bearer challenge strictly, as
// a client testing a server should: for the module's tests and the doctor.
package challenge

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax is returned by [Parse] for a header that is not
// one well-formed Bearer challenge.
var ErrSyntax = errors.New("malformed Bearer challenge")

// Parse parses a WWW-Authenticate header value holding one Bearer (or
// DPoP, RFC 9449 §7.1) challenge into its auth-params. It is strict, as a
// client testing a server should be: the scheme must be Bearer or DPoP,
// every value quoted, no parameter repeated.
func Parse(h string) (map[string]string, error) {
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "DPoP") {
		return nil, fmt.Errorf("%w: scheme %q is neither Bearer nor DPoP", ErrSyntax, scheme)
	}
	params := map[string]string{}
	rest = strings.TrimLeft(rest, " ")
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%w: expected name=\"value\" at %q", ErrSyntax, rest)
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = rest[eq+1:]
		if !strings.HasPrefix(rest, `"`) {
			return nil, fmt.Errorf("%w: value of %s is not quoted", ErrSyntax, name)
		}
		var v strings.Builder
		i := 1
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
			}
			v.WriteByte(rest[i])
		}
		if i >= len(rest) {
			return nil, fmt.Errorf("%w: unterminated value of %s", ErrSyntax, name)
		}
		if _, dup := params[name]; dup {
			return nil, fmt.Errorf("%w: parameter %s appears twice", ErrSyntax, name)
		}
		params[name] = v.String()
		rest = strings.TrimLeft(rest[i+1:], " ")
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Errorf("%w: expected ',' after %s", ErrSyntax, name)
			}
			rest = strings.TrimLeft(rest[1:], " ")
		}
	}
	return params, nil
}
