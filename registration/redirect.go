package registration

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// RedirectPolicy says which redirect URIs may be registered and how they
// are matched. The zero value is the strict OAuth 2.1 policy: https, or http
// on 127.0.0.1 or [::1] with any port.
type RedirectPolicy struct {
	// AllowLocalhost also treats http://localhost as a loopback redirect.
	// RFC 8252 §8.3 discourages it, but many MCP clients register it.
	AllowLocalhost bool
	// AllowCustomSchemes allows private-use schemes of native apps
	// ("com.example.app:/callback"). javascript, data, file and vbscript are
	// refused regardless.
	AllowCustomSchemes bool
}

// ErrInvalidRedirectURI is wrapped by every error about a redirect URI that
// cannot be registered.
var ErrInvalidRedirectURI = errors.New("invalid redirect_uri")

var forbiddenSchemes = map[string]bool{"javascript": true, "data": true, "file": true, "vbscript": true, "blob": true, "about": true}

// Validate reports whether uri may be registered under p.
func (p RedirectPolicy) Validate(uri string) error {
	u, err := url.Parse(uri)
	bad := func(why string) error { return fmt.Errorf("%w: %q %s", ErrInvalidRedirectURI, uri, why) }
	switch {
	case err != nil:
		return bad("is not a URL")
	case !u.IsAbs():
		return bad("is not absolute")
	case strings.Contains(uri, "#"):
		return bad("has a fragment (RFC 6749 §3.1.2)")
	case u.User != nil:
		return bad("has userinfo")
	case strings.Contains(uri, "*"):
		return bad("has a wildcard; redirect URIs are matched exactly")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case forbiddenSchemes[scheme]:
		return bad("uses the " + scheme + " scheme")
	case scheme == "https":
		if u.Host == "" {
			return bad("has no host")
		}
	case scheme == "http":
		if !p.loopback(u.Hostname()) {
			return bad("uses http on a host that is not a loopback address; use https")
		}
	default:
		if !p.AllowCustomSchemes {
			return bad("uses the custom scheme " + scheme + " and custom schemes are not allowed")
		}
		if !strings.Contains(scheme, ".") {
			return bad("uses a custom scheme that is not reverse-DNS (RFC 8252 §7.1)")
		}
	}
	return nil
}

func (p RedirectPolicy) loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return p.AllowLocalhost
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RedirectMismatchError says why a requested redirect URI matches none of the
// registered ones, comparing it with the closest.
type RedirectMismatchError struct {
	Requested  string
	Registered string // the closest registered URI, "" when none is registered
	// Part is what differs: "trailing_slash", "port", "scheme", "host_case",
	// "host", "path", "query", "invalid" (the request is not a valid URL) or
	// "none_registered".
	Part string
}

// Error returns the message: what was expected and what was seen.
func (e *RedirectMismatchError) Error() string {
	switch e.Part {
	case "none_registered":
		return fmt.Sprintf("redirect_uri %q: the client registered no redirect URIs", e.Requested)
	case "invalid":
		return fmt.Sprintf("redirect_uri %q is not a valid absolute URL", e.Requested)
	}
	what := map[string]string{
		"trailing_slash": "they differ only by a trailing slash",
		"port":           "the port differs (only loopback redirects may use any port)",
		"scheme":         "the scheme differs",
		"host_case":      "the host differs in letter case; redirect URIs are compared exactly",
		"host":           "the host differs",
		"path":           "the path differs",
		"query":          "the query differs",
	}[e.Part]
	return fmt.Sprintf("redirect_uri %q does not match the registered %q: %s", e.Requested, e.Registered, what)
}

// Match checks requested against registered: an exact string match, or for
// a loopback redirect the same URI with any port (RFC 8252 §7.3).
func (p RedirectPolicy) Match(registered []string, requested string) error {
	if len(registered) == 0 {
		return &RedirectMismatchError{Requested: requested, Part: "none_registered"}
	}
	ru, err := url.Parse(requested)
	if err != nil || !ru.IsAbs() || strings.Contains(requested, "#") || ru.User != nil {
		return &RedirectMismatchError{Requested: requested, Part: "invalid"}
	}
	best, bestPart, bestScore := "", "", -1
	for _, reg := range registered {
		if reg == requested {
			return nil
		}
		gu, err := url.Parse(reg)
		if err != nil {
			continue
		}
		part, score := diff(gu, ru)
		if part == "" && p.loopbackAnyPort(gu, ru) {
			return nil
		}
		if part == "" {
			part = "port"
		}
		if score > bestScore {
			best, bestPart, bestScore = reg, part, score
		}
	}
	return &RedirectMismatchError{Requested: requested, Registered: best, Part: bestPart}
}

// loopbackAnyPort reports whether a and b are the same loopback redirect
// except for the port.
func (p RedirectPolicy) loopbackAnyPort(a, b *url.URL) bool {
	return a.Scheme == "http" && b.Scheme == "http" && p.loopback(a.Hostname()) && a.Hostname() == b.Hostname()
}

// diff names the first part in which reg and req differ, ignoring the port
// ("" when only the port, or nothing, differs), and scores how close they are.
func diff(reg, req *url.URL) (part string, score int) {
	switch {
	case reg.Scheme != req.Scheme:
		return "scheme", 1
	case reg.Hostname() != req.Hostname():
		if strings.EqualFold(reg.Hostname(), req.Hostname()) {
			return "host_case", 3
		}
		return "host", 0
	case reg.EscapedPath() != req.EscapedPath():
		if strings.TrimSuffix(reg.EscapedPath(), "/") == strings.TrimSuffix(req.EscapedPath(), "/") {
			return "trailing_slash", 5
		}
		return "path", 2
	case reg.RawQuery != req.RawQuery:
		return "query", 4
	}
	return "", 6
}
