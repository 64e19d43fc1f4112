// Package cache is the module's one bounded, expiring map. Every cache and
// table keyed by what peers send (validated tokens, registered clients,
// client metadata documents, rate-limit counters, the in-memory store of
// codes, refresh tokens and pending sign-ins) is built on it, so each is
// bounded in entries and in bytes, and forgets what it holds after a time.
//
// The entries are held and expired by github.com/patrickmn/go-cache; this
// package adds what it lacks: the bounds on entries and bytes, the refusal
// of a new entry when full, the sweep policy, and an injectable clock.
// When a Set finds the cache full it drops expired entries, at most once a
// second so that a full cache under a flood costs no more than that, and
// refuses the new entry if there is still no room: what is already held is
// never evicted to make room for what an attacker sends.
package cache

import (
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// sweepGap is the least time between two sweeps caused by a full cache.
const sweepGap = time.Second

// Options bound a [Cache].
type Options struct {
	// MaxEntries bounds the number of entries. Required (> 0).
	MaxEntries int
	// MaxBytes bounds the sum of the sizes given to Set. Required (> 0).
	MaxBytes int64
	// Now is the clock; nil means the wall clock, go-cache's own. An
	// entry expires when either this clock or the wall clock says it has.
	Now func() time.Time
}

// Cache is a bounded map from strings to V whose entries expire. It is
// safe for concurrent use: reads go to go-cache alone; writes are made one
// at a time, so the bounds hold.
type Cache[V any] struct {
	opts      Options
	wall      bool // opts.Now is the wall clock: go-cache's expiry is the only one
	c         *gocache.Cache
	mu        sync.Mutex // held by every write, and so by every eviction callback
	bytes     int64
	lastSweep time.Time
}

type entry[V any] struct {
	v       V
	size    int64
	expires time.Time // by opts.Now
}

// New returns an empty Cache bounded by o. It panics if a bound is missing.
func New[V any](o Options) *Cache[V] {
	if o.MaxEntries <= 0 || o.MaxBytes <= 0 {
		panic("cache: MaxEntries and MaxBytes must be positive")
	}
	c := &Cache[V]{opts: o, wall: o.Now == nil}
	if c.wall {
		c.opts.Now = time.Now
	}
	// No janitor: expired entries are dropped by Sweep and by a full Set,
	// under mu, so the byte count stays exact.
	c.c = gocache.New(gocache.NoExpiration, 0)
	c.c.OnEvicted(func(_ string, v any) { c.bytes -= v.(*entry[V]).size }) // with mu held
	return c
}

// Get returns the value stored for k, unless it has expired.
func (c *Cache[V]) Get(k string) (V, bool) {
	var zero V
	x, ok := c.c.Get(k)
	if !ok {
		return zero, false
	}
	e := x.(*entry[V])
	if c.wall {
		return e.v, true // go-cache checked the expiry
	}
	if !c.opts.Now().Before(e.expires) {
		c.mu.Lock()
		c.dropExpiredLocked(k)
		c.mu.Unlock()
		return zero, false
	}
	return e.v, true
}

// Set stores v for k for ttl, counting size bytes against MaxBytes (give
// the key's and the value's size, or a bound on them). It replaces what k
// held. It reports false, storing nothing and leaving k's old entry as it
// was, when ttl is not positive, size alone exceeds MaxBytes, or there is
// no room even after dropping expired entries.
func (c *Cache[V]) Set(k string, v V, size int64, ttl time.Duration) bool {
	if ttl <= 0 || size < 0 || size > c.opts.MaxBytes {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	old, replacing := c.live(k, now)
	if !replacing {
		c.c.Delete(k) // an expired entry still counted: its bytes are given back
	}
	fits := func() bool {
		entries, bytes := c.c.ItemCount(), c.bytes+size
		if replacing {
			entries, bytes = entries-1, bytes-old.size
		}
		return entries < c.opts.MaxEntries && bytes <= c.opts.MaxBytes
	}
	if !fits() && now.Sub(c.lastSweep) >= sweepGap {
		c.sweepLocked(now)
		old, replacing = c.live(k, now)
	}
	if !fits() {
		return false
	}
	if replacing {
		c.bytes -= old.size
	}
	c.c.Set(k, &entry[V]{v: v, size: size, expires: now.Add(ttl)}, ttl)
	c.bytes += size
	return true
}

// live returns k's entry when it has not expired by either clock.
func (c *Cache[V]) live(k string, now time.Time) (*entry[V], bool) {
	x, ok := c.c.Get(k)
	if !ok {
		return nil, false
	}
	e := x.(*entry[V])
	return e, now.Before(e.expires)
}

// Delete removes k and returns what it held, if it held anything unexpired.
func (c *Cache[V]) Delete(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.live(k, c.opts.Now())
	c.c.Delete(k)
	if !ok {
		var zero V
		return zero, false
	}
	return e.v, true
}

// dropExpiredLocked deletes k if it has expired by the cache's clock: a
// Get may race a Set that has just replaced it.
func (c *Cache[V]) dropExpiredLocked(k string) {
	if _, ok := c.live(k, c.opts.Now()); !ok {
		c.c.Delete(k)
	}
}

// Len returns the number of entries, expired ones not yet dropped included.
func (c *Cache[V]) Len() int { return c.c.ItemCount() }

// Bytes returns the sum of the sizes of the entries.
func (c *Cache[V]) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Sweep drops every expired entry. Owners with a background goroutine call
// it periodically; without one, expired entries go when they are read or
// when the cache is full.
func (c *Cache[V]) Sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(c.opts.Now())
}

func (c *Cache[V]) sweepLocked(now time.Time) {
	c.lastSweep = now
	c.c.DeleteExpired() // by the wall clock
	for k, it := range c.c.Items() {
		if !now.Before(it.Object.(*entry[V]).expires) { // by the cache's clock
			c.c.Delete(k)
		}
	}
}
