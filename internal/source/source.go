// Package source names where a request comes from, for the budgets that
// bound what unauthenticated callers can make a server keep: the remote IP
// address, an IPv6 address by its /64 (one host usually holds a whole
// /64), any key bounded in length.
package source

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
)

// MaxKeyBytes bounds a key; longer ones are replaced by their hash.
const MaxKeyBytes = 128

// Key returns the source of r: keyFunc's answer when keyFunc is not nil
// (behind a reverse proxy, the address it vouches for), else the remote
// address's prefix, bounded by [Bound].
func Key(r *http.Request, keyFunc func(*http.Request) string) string {
	if keyFunc != nil {
		return Bound(keyFunc(r))
	}
	return Bound(RemotePrefix(r.RemoteAddr))
}

// RemotePrefix is the IP of a RemoteAddr, an IPv6 address by its /64.
func RemotePrefix(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return remote
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// Bound returns k, or its SHA-256 in hex when k is longer than MaxKeyBytes.
func Bound(k string) string {
	if len(k) > MaxKeyBytes {
		sum := sha256.Sum256([]byte(k))
		return hex.EncodeToString(sum[:])
	}
	return k
}
