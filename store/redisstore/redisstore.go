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

// redeem is store.Redemption in one script, so in one round trip and one
// atomic step: KEYS[1] is taken unless one of KEYS[2..1+u] exists; then
// the puts (ARGV[2..]: value, ttl in ms, append flag, for KEYS[2+u..]) are
// stored, an appended one followed by the taken value without its first
// line. It returns false for a missing key, 0 for a refusal, and the
// taken value otherwise.
var redeem = redis.NewScript(`
local u = tonumber(ARGV[1])
for i = 2, 1 + u do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
local v = redis.call('GETDEL', KEYS[1])
if not v then return false end
local body = v
local nl = string.find(v, '\n', 1, true)
if nl then body = string.sub(v, nl + 1) end
local j = 2
for i = 2 + u, #KEYS do
  local value = ARGV[j]
  if ARGV[j + 2] == '1' then value = value .. body end
  redis.call('SET', KEYS[i], value, 'PX', ARGV[j + 1])
  j = j + 3
end
return v`)

var _ store.Redeemer = (*Store)(nil)

// Redeem implements store.Redeemer with one script: one round trip, one
// atomic step, so of concurrent redemptions of one key on any number of
// replicas one takes it and only its items are stored.
func (s *Store) Redeem(ctx context.Context, r store.Redemption) ([]byte, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	keys := make([]string, 0, 1+len(r.Unless)+len(r.Puts))
	keys = append(keys, s.prefix+r.Key)
	for _, k := range r.Unless {
		keys = append(keys, s.prefix+k)
	}
	args := make([]any, 0, 1+3*len(r.Puts))
	args = append(args, len(r.Unless))
	for _, p := range r.Puts {
		keys = append(keys, s.prefix+p.Key)
		appendTaken := "0"
		if p.AppendTaken {
			appendTaken = "1"
		}
		args = append(args, p.Value, p.TTL.Milliseconds(), appendTaken)
	}
	v, err := redeem.Run(ctx, s.c, keys, args...).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, unavailable("redeem script", err)
	}
	switch v := v.(type) {
	case string:
		return []byte(v), nil
	case int64:
		return nil, store.ErrRefused
	}
	return nil, unavailable("redeem script", fmt.Errorf("unexpected reply %T", v))
}
