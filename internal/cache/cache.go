// Package cache is the module's one bounded, expiring map. Every cache and
// table keyed by what peers send (validated tokens, session bindings,
// registered clients, client metadata documents, rate-limit counters, the
// development server's codes and refresh tokens) is built on it, so each is
// bounded in entries and in bytes, and forgets what it holds after a time.
//
// When a Set finds the cache full it drops expired entries, at most once a
// second so that a full cache under a flood costs no more than that, and
// refuses the new entry if there is still no room: what is already held is
// never evicted to make room for what an attacker sends.
package cache

import (
	"sync"
	"time"
)

// sweepGap is the least time between two sweeps caused by a full cache.
const sweepGap = time.Second

// Options bound a [Cache].
type Options[K comparable, V any] struct {
	// MaxEntries bounds the number of entries. Required (> 0).
	MaxEntries int
	// MaxBytes bounds the sum of the sizes given to Set. Required (> 0).
	MaxBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnRemove, when set, is called for each entry that leaves the cache by
	// expiring or by Delete (not when Set replaces it), with the cache's
	// lock held: it must be quick and must not call the cache.
	OnRemove func(key K, value V)
}

// Cache is a bounded map whose entries expire. It is safe for concurrent
// use.
type Cache[K comparable, V any] struct {
	opts      Options[K, V]
	mu        sync.Mutex
	m         map[K]entry[V]
	bytes     int64
	lastSweep time.Time
}

type entry[V any] struct {
	v       V
	size    int64
	expires time.Time
}

// New returns an empty Cache bounded by o. It panics if a bound is missing.
func New[K comparable, V any](o Options[K, V]) *Cache[K, V] {
	if o.MaxEntries <= 0 || o.MaxBytes <= 0 {
		panic("cache: MaxEntries and MaxBytes must be positive")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Cache[K, V]{opts: o, m: map[K]entry[V]{}}
}

// Get returns the value stored for k, unless it has expired.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	if !c.opts.Now().Before(e.expires) {
		c.removeLocked(k, e)
		var zero V
		return zero, false
	}
	return e.v, true
}

// Set stores v for k for ttl, counting size bytes against MaxBytes (give
// the key's and the value's size, or a bound on them). It replaces what k
// held. It reports false, storing nothing and leaving k's old entry as it
// was, when ttl is not positive, size alone exceeds MaxBytes, or there is
// no room even after dropping expired entries.
func (c *Cache[K, V]) Set(k K, v V, size int64, ttl time.Duration) bool {
	if ttl <= 0 || size < 0 || size > c.opts.MaxBytes {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	old, replacing := c.m[k]
	fits := func() bool {
		entries, bytes := len(c.m), c.bytes+size
		if replacing {
			entries, bytes = entries-1, bytes-old.size
		}
		return entries < c.opts.MaxEntries && bytes <= c.opts.MaxBytes
	}
	if !fits() && now.Sub(c.lastSweep) >= sweepGap {
		c.sweepLocked(now)
		old, replacing = c.m[k]
	}
	if !fits() {
		return false
	}
	if replacing {
		c.bytes -= old.size
	}
	c.m[k] = entry[V]{v: v, size: size, expires: now.Add(ttl)}
	c.bytes += size
	return true
}

// Delete removes k and returns what it held, if it held anything unexpired.
func (c *Cache[K, V]) Delete(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.removeLocked(k, e)
	if !c.opts.Now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Len returns the number of entries, expired ones not yet dropped included.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Bytes returns the sum of the sizes of the entries.
func (c *Cache[K, V]) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Sweep drops every expired entry. Owners with a background goroutine call
// it periodically; without one, expired entries go when they are read or
// when the cache is full.
func (c *Cache[K, V]) Sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(c.opts.Now())
}

func (c *Cache[K, V]) sweepLocked(now time.Time) {
	c.lastSweep = now
	for k, e := range c.m {
		if !now.Before(e.expires) {
			c.removeLocked(k, e)
		}
	}
}

func (c *Cache[K, V]) removeLocked(k K, e entry[V]) {
	delete(c.m, k)
	c.bytes -= e.size
	if c.opts.OnRemove != nil {
		c.opts.OnRemove(k, e.v)
	}
}
