package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpauth/mcpauth/store"
	"github.com/mcpauth/mcpauth/store/redisstore"
	"github.com/mcpauth/mcpauth/store/storetest"
)

func client(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConformance runs the store suite with two replicas, each with its own
// connection pool, against one real Redis.
func TestConformance(t *testing.T) {
	addr, _ := storetest.StartRedis(t)
	n := 0
	storetest.Run(t, func(t *testing.T) (store.Store, store.Store) {
		n++
		prefix := fmt.Sprintf("test%d:", n)
		return redisstore.New(client(t, addr), prefix), redisstore.New(client(t, addr), prefix)
	})
}

// Redis going away is ErrUnavailable, for every operation: never a
// missing item that a caller could take for "not found", never a grant.
func TestRedisGoneIsUnavailable(t *testing.T) {
	addr, stop := storetest.StartRedis(t)
	s := redisstore.New(client(t, addr), "gone:")
	ctx := context.Background()
	if err := s.Put(ctx, "code", []byte("grant"), time.Minute); err != nil {
		t.Fatal(err)
	}
	stop()
	_, getErr := s.Get(ctx, "code")
	_, takeErr := s.Take(ctx, "code")
	_, incrErr := s.Incr(ctx, "rate", time.Minute)
	for name, err := range map[string]error{
		"Put": s.Put(ctx, "k", []byte("v"), time.Minute), "Add": s.Add(ctx, "k", []byte("v"), time.Minute),
		"Get": getErr, "Take": takeErr, "Delete": s.Delete(ctx, "k"), "Incr": incrErr,
	} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with Redis gone: %v, want ErrUnavailable", name, err)
		}
	}
}
