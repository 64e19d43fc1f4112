package registration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
	"time"

	"github.com/mcpauth/mcpauth/internal/cache"
)

// bucket counts one client's registrations in its current window.
type bucket struct {
	start time.Time
	n     int
}

// Bounds on the rate limiter's memory: keys tracked, and their length.
const (
	maxRateKeys     = 10_000
	maxRateKeyBytes = 128
)

func (h *DCRHandler) window() time.Duration {
	if h.Policy.RateWindow <= 0 {
		return time.Minute
	}
	return h.Policy.RateWindow
}

// rateKey returns the client key of r, bounded in length.
func (h *DCRHandler) rateKey(r *http.Request) string {
	var k string
	if h.Policy.RateKey != nil {
		k = h.Policy.RateKey(r)
	} else {
		k = remotePrefix(r.RemoteAddr)
	}
	if len(k) > maxRateKeyBytes {
		sum := sha256.Sum256([]byte(k))
		k = hex.EncodeToString(sum[:])
	}
	return k
}

// remotePrefix is the IP of a RemoteAddr, an IPv6 address by its /64 (one
// host usually holds a whole /64).
func remotePrefix(remote string) string {
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

// take counts one registration for key, or reports false when key has used
// its budget or no more keys can be tracked; err when the shared counter
// store cannot be reached.
func (h *DCRHandler) take(ctx context.Context, key string) (bool, error) {
	if h.Policy.RateLimit <= 0 {
		return true, nil
	}
	if rs := h.Policy.RateStore; rs != nil {
		n, err := rs.Incr(ctx, "dcr-rate:"+key, h.window())
		return err == nil && n <= int64(h.Policy.RateLimit), err
	}
	return h.takeLocal(key), nil
}

// takeLocal is take with the counters in memory.
func (h *DCRHandler) takeLocal(key string) bool {
	now, window := h.Policy.now(), h.window()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.buckets == nil {
		h.buckets = cache.New(cache.Options[string, *bucket]{MaxEntries: maxRateKeys, MaxBytes: maxRateKeys * (maxRateKeyBytes + 64), Now: h.Policy.now})
	}
	b, ok := h.buckets.Get(key)
	if !ok || now.Sub(b.start) >= window {
		b = &bucket{start: now}
		if !h.buckets.Set(key, b, int64(len(key)+64), window) {
			return false // full: registrations wait for windows to end
		}
	}
	if b.n >= h.Policy.RateLimit {
		return false
	}
	b.n++
	return true
}

// refund gives back a registration that take counted but did not happen
// (with a shared RateStore, the count stands until its window ends).
func (h *DCRHandler) refund(key string) {
	if h.Policy.RateLimit <= 0 || h.Policy.RateStore != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.buckets.Get(key); ok && b.n > 0 {
		b.n--
	}
}
