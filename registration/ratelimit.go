package registration

import (
	"context"
	"net/http"
	"time"

	"github.com/mcpauth/mcpauth/internal/cache"
	"github.com/mcpauth/mcpauth/internal/source"
)

// bucket counts one client's registrations in its current window.
type bucket struct {
	start time.Time
	n     int
}

// Bounds on the rate limiter's memory: keys tracked, and their length.
const (
	maxRateKeys     = 10_000
	maxRateKeyBytes = source.MaxKeyBytes
)

func (h *DCRHandler) window() time.Duration {
	if h.Policy.RateWindow <= 0 {
		return time.Minute
	}
	return h.Policy.RateWindow
}

// rateKey returns the client key of r, bounded in length.
func (h *DCRHandler) rateKey(r *http.Request) string { return source.Key(r, h.Policy.RateKey) }

func (h *DCRHandler) globalWindow() time.Duration {
	if h.Policy.GlobalRateWindow <= 0 {
		return UnusedTTL
	}
	return h.Policy.GlobalRateWindow
}

// globalKey counts every source's registrations together.
const globalKey = "\x00all"

// take counts one registration for key, then for all sources together, or
// reports false when either has used its budget (or no more keys can be
// tracked); err when the shared counter store cannot be reached. The
// source is counted first, so one source over its budget cannot use up
// everyone's.
func (h *DCRHandler) take(ctx context.Context, key string) (bool, error) {
	ok, err := h.count(ctx, key, h.Policy.RateLimit, h.window())
	if !ok || err != nil {
		return false, err
	}
	ok, err = h.count(ctx, globalKey, h.Policy.GlobalRateLimit, h.globalWindow())
	if !ok && err == nil {
		h.refund(key, h.Policy.RateLimit)
	}
	return ok, err
}

// count counts one registration against the budget limit per window of
// key; a limit of zero is no budget.
func (h *DCRHandler) count(ctx context.Context, key string, limit int, window time.Duration) (bool, error) {
	if limit <= 0 {
		return true, nil
	}
	if rs := h.Policy.RateStore; rs != nil {
		n, err := rs.Incr(ctx, "dcr-rate:"+key, window)
		return err == nil && n <= int64(limit), err
	}
	return h.countLocal(key, limit, window), nil
}

// countLocal is count with the counters in memory.
func (h *DCRHandler) countLocal(key string, limit int, window time.Duration) bool {
	now := h.Policy.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.buckets == nil {
		h.buckets = cache.New[*bucket](cache.Options{MaxEntries: maxRateKeys, MaxBytes: maxRateKeys * (maxRateKeyBytes + 64), Now: h.Policy.Now})
	}
	b, ok := h.buckets.Get(key)
	if !ok || now.Sub(b.start) >= window {
		b = &bucket{start: now}
		if !h.buckets.Set(key, b, int64(len(key)+64), window) {
			return false // full: registrations wait for windows to end
		}
	}
	if b.n >= limit {
		return false
	}
	b.n++
	return true
}

// refund gives back a registration that count counted for key but did not
// happen (with a shared RateStore, the count stands until its window ends).
func (h *DCRHandler) refund(key string, limit int) {
	if limit <= 0 || h.Policy.RateStore != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.buckets.Get(key); ok && b.n > 0 {
		b.n--
	}
}
