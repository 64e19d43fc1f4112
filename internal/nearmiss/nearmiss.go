// Package nearmiss names the near misses between what a token carries and
// what a server expects, for the verifier's errors and the doctor's advice.
package nearmiss

import "strings"

// The audience near misses [Audience] recognizes.
const (
	// TrailingSlash: an audience differs from an expected one only by a
	// trailing slash.
	TrailingSlash = "trailing_slash"
	// OriginOnly: one is the other's origin (scheme://host), without the
	// path of the MCP endpoint.
	OriginOnly = "origin_only"
)

// Audience compares the audiences a token carries (actual) with the ones
// accepted (expected) and names the near miss: TrailingSlash, OriginOnly,
// or "" when there is none.
func Audience(actual, expected []string) string {
	for _, v := range actual {
		for _, e := range expected {
			if strings.TrimSuffix(v, "/") == strings.TrimSuffix(e, "/") {
				return TrailingSlash
			}
		}
	}
	for _, v := range actual {
		for _, e := range expected {
			if originOf(e) == strings.TrimSuffix(v, "/") || originOf(v) == strings.TrimSuffix(e, "/") {
				return OriginOnly
			}
		}
	}
	return ""
}

// originOf returns scheme://host of an absolute URL with a path, or "".
func originOf(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(u[i+3:], '/')
	if j < 0 {
		return ""
	}
	return u[:i+3+j]
}
