package auth

import (
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/mcpauth/mcpauth/metadata"
)

// checkLoopback returns why r is not a request from this machine to this
// machine, or nil: the connection must come from a loopback address, the
// Host header must name a loopback host (so a DNS-rebinding page that
// resolves its own name to 127.0.0.1 is refused), and a browser's Origin and
// Sec-Fetch-Site, when sent, must not be another site's.
func checkLoopback(r *http.Request) error {
	if host := hostOnly(r.RemoteAddr); !metadata.IsLoopbackHost(host) {
		return fmt.Errorf("the connection comes from %q, not a loopback address", host)
	}
	if h := hostOnly(r.Host); !metadata.IsLoopbackHost(h) {
		return fmt.Errorf("the Host header names %q, not a loopback host (DNS rebinding?)", trunc(r.Host))
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !metadata.IsLoopbackHost(u.Hostname()) {
			return fmt.Errorf("the Origin %q is not a loopback origin", trunc(o))
		}
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return fmt.Errorf("Sec-Fetch-Site is %q: the request comes from another site's page", trunc(site))
	}
	return nil
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// LoopbackOnly serves h to requests from this machine to this machine only
// (see the loopback checks of [Trace]), and 403 to everything else: for
// debugging endpoints such as [Metrics] that must not leave the machine, nor
// be read by a web page the developer visits.
func LoopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkLoopback(r); err != nil {
			http.Error(w, "served to loopback callers only: "+err.Error(), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
