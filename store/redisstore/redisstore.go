// Package redisstore is a [store.Store] on Redis (github.com/redis/go-redis/v9),
// so that replicas of an authorization server behind a load balancer share
// registrations, pending transactions, codes, refresh tokens and rate-limit
// counters. Every operation is one atomic Redis command (GETDEL for Take,
// SET NX for Add, a script for Incr), so a code redeemed on two replicas at
// once is redeemed once. Only programs that import this package compile
// go-redis.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpauth/mcpauth/store"
)

// Store is the Redis store. Keys are prefixed, so several deployments can
// share one Redis.
type Store struct {
	c      redis.UniversalClient
	prefix string
}

// New returns a Store over c with keys under prefix (e.g. "mcpauth:").
func New(c redis.UniversalClient, prefix string) *Store { return &Store{c: c, prefix: prefix} }

var _ store.Store = (*Store)(nil)

// unavailable wraps a Redis failure as store.ErrUnavailable, naming it.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %v", store.ErrUnavailable, op, err)
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := store.Check(key, value, ttl); err != nil {
		return err
	}
	if err := s.c.Set(ctx, s.prefix+key, value, ttl).Err(); err != nil {
		return unavailable("SET", err)
	}
	return nil
}

// Add implements store.Store.
func (s *Store) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := store.Check(key, value, ttl); err != nil {
		return err
	}
	err := s.c.SetArgs(ctx, s.prefix+key, value, redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return store.ErrExists
	case err != nil:
		return unavailable("SET NX", err)
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := s.c.Get(ctx, s.prefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, unavailable("GET", err)
	}
	return b, nil
}

// Take implements store.Store with GETDEL: of concurrent Takes of one key,
// on any number of replicas, one gets the value.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	b, err := s.c.GetDel(ctx, s.prefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, unavailable("GETDEL", err)
	}
	return b, nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.c.Del(ctx, s.prefix+key).Err(); err != nil {
		return unavailable("DEL", err)
	}
	return nil
}

// incr increments a counter and gives a new one its window, in one step.
var incr = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// Incr implements store.Store.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if err := store.Check(key, nil, ttl); err != nil {
		return 0, err
	}
	n, err := incr.Run(ctx, s.c, []string{s.prefix + key}, ttl.Milliseconds()).Int64()
	if err != nil {
		return 0, unavailable("INCR", err)
	}
	return n, nil
}
