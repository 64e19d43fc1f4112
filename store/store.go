// Package store is what mcpauth keeps between requests when it registers
// clients or runs flows (registrations, pending transactions, codes,
// refresh tokens, consents, rate-limit counters): one small interface, an
// in-memory implementation for one replica (the default), and
// store/redisstore for replicas that must share it. Every item is bounded
// in size and expires; single-use items are taken atomically, so two
// replicas redeeming the same code at once cannot both succeed.
//
// Start with [NewMemory] (one replica), or redisstore.New for replicas,
// and hand it to the proxy or the development server as their Store;
// [Redeem] is what they redeem codes and rotate refresh tokens with.
package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mcpauth/mcpauth/internal/cache"
)

// Store keeps byte values under string keys, each for a limited time.
// Implementations must be safe for concurrent use, and atomic per call
// across every replica that shares them.
type Store interface {
	// Put stores value under key for ttl, replacing what key held.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Add stores value under key for ttl only if key holds nothing;
	// otherwise it fails with ErrExists.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns the value of key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Take returns the value of key and removes it in one step, or
	// ErrNotFound: of concurrent Takes of one key, one succeeds.
	Take(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; removing nothing is not an error.
	Delete(ctx context.Context, key string) error
	// Incr adds one to the counter at key and returns its new value; a
	// counter that does not exist is created at 1 and expires after ttl
	// (a fixed window), later increments keep that expiry.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
}

// The errors of a Store. ErrUnavailable wraps a backend that cannot be
// reached: callers answer 503, never a grant.
var (
	ErrNotFound    = errors.New("store: not found")
	ErrExists      = errors.New("store: key exists")
	ErrTooLarge    = errors.New("store: value too large")
	ErrFull        = errors.New("store: full")
	ErrUnavailable = errors.New("store: unavailable")
	ErrNoTTL       = errors.New("store: every item must expire: ttl must be positive")
)

// Bounds every implementation enforces before storing anything.
const (
	MaxKeyBytes   = 512
	MaxValueBytes = 64 << 10
)

// Check validates key, value and ttl against the bounds; implementations
// call it first.
func Check(key string, value []byte, ttl time.Duration) error {
	switch {
	case key == "" || len(key) > MaxKeyBytes:
		return fmt.Errorf("%w: a key is 1 to %d bytes, got %d", ErrTooLarge, MaxKeyBytes, len(key))
	case len(value) > MaxValueBytes:
		return fmt.Errorf("%w: a value is at most %d bytes, got %d", ErrTooLarge, MaxValueBytes, len(value))
	case ttl <= 0:
		return ErrNoTTL
	}
	return nil
}

// Memory is the in-memory Store: one replica's, bounded in entries and
// bytes, each item expiring.
type Memory struct {
	mu sync.Mutex // makes Add, Take and Incr one step each
	c  *cache.Cache[memoryItem]
}

type memoryItem struct {
	value []byte
	n     int64 // for counters
	until time.Time
}

// NewMemory returns a Memory store holding at most maxEntries items and
// maxBytes bytes (zero: 100,000 and 256 MiB); when full, new items are
// refused with ErrFull rather than evicting held ones.
func NewMemory(maxEntries int, maxBytes int64) *Memory {
	if maxEntries <= 0 {
		maxEntries = 100_000
	}
	if maxBytes <= 0 {
		maxBytes = 256 << 20
	}
	return &Memory{c: cache.New[memoryItem](cache.Options{MaxEntries: maxEntries, MaxBytes: maxBytes})}
}

func size(key string, value []byte) int64 { return int64(len(key)+len(value)) + 64 }

// Put implements Store.
func (m *Memory) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if err := Check(key, value, ttl); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.c.Set(key, memoryItem{value: clone(value), until: time.Now().Add(ttl)}, size(key, value), ttl) {
		return ErrFull
	}
	return nil
}

// Add implements Store.
func (m *Memory) Add(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if err := Check(key, value, ttl); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.c.Get(key); ok {
		return ErrExists
	}
	if !m.c.Set(key, memoryItem{value: clone(value), until: time.Now().Add(ttl)}, size(key, value), ttl) {
		return ErrFull
	}
	return nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) ([]byte, error) {
	it, ok := m.c.Get(key)
	if !ok || it.value == nil {
		return nil, ErrNotFound
	}
	return clone(it.value), nil
}

// Take implements Store.
func (m *Memory) Take(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.c.Delete(key)
	if !ok || it.value == nil {
		return nil, ErrNotFound
	}
	return it.value, nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.c.Delete(key)
	return nil
}

// Incr implements Store.
func (m *Memory) Incr(_ context.Context, key string, ttl time.Duration) (int64, error) {
	if err := Check(key, nil, ttl); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.c.Get(key)
	if !ok {
		it = memoryItem{until: time.Now().Add(ttl)}
	}
	it.n++
	left := time.Until(it.until)
	if left <= 0 || !m.c.Set(key, it, size(key, nil), left) {
		return 0, ErrFull
	}
	return it.n, nil
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte(nil), b...)
}
