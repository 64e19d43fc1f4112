// Package storetest is the conformance suite every [store.Store] passes:
// the in-memory one and the Redis one run the same tests, including the
// race of two replicas redeeming one code.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/store"
)

// Run runs the suite against stores from open: each call returns a store
// handle; handles of one test share their data (two replicas).
func Run(t *testing.T, open func(t *testing.T) (replicaA, replicaB store.Store)) {
	ctx := context.Background()
	t.Run("put get delete", func(t *testing.T) {
		a, b := open(t)
		if err := a.Put(ctx, "k", []byte("v1"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, err := b.Get(ctx, "k"); err != nil || string(v) != "v1" {
			t.Fatalf("the other replica reads %q, %v", v, err)
		}
		if err := b.Put(ctx, "k", []byte("v2"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, _ := a.Get(ctx, "k"); string(v) != "v2" {
			t.Fatalf("after Put on the other replica: %q", v)
		}
		if err := a.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after Delete: %v", err)
		}
		if err := a.Delete(ctx, "never-stored"); err != nil {
			t.Fatalf("deleting nothing: %v", err)
		}
	})
	t.Run("add refuses an existing key", func(t *testing.T) {
		a, b := open(t)
		if err := a.Add(ctx, "tx", []byte("first"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(ctx, "tx", []byte("second"), time.Minute); !errors.Is(err, store.ErrExists) {
			t.Fatalf("second Add: %v", err)
		}
		if v, _ := a.Get(ctx, "tx"); string(v) != "first" {
			t.Fatalf("value %q", v)
		}
	})
	t.Run("items expire", func(t *testing.T) {
		a, _ := open(t)
		if err := a.Put(ctx, "short", []byte("v"), 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(120 * time.Millisecond)
		if _, err := a.Get(ctx, "short"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an expired item: %v", err)
		}
	})
	t.Run("every item is bounded and expires", func(t *testing.T) {
		a, _ := open(t)
		for name, err := range map[string]error{
			"no ttl":          a.Put(ctx, "k", []byte("v"), 0),
			"negative ttl":    a.Add(ctx, "k", []byte("v"), -time.Second),
			"value too large": a.Put(ctx, "k", make([]byte, store.MaxValueBytes+1), time.Minute),
			"key too large":   a.Put(ctx, strings.Repeat("k", store.MaxKeyBytes+1), nil, time.Minute),
			"empty key":       a.Put(ctx, "", nil, time.Minute),
		} {
			if err == nil {
				t.Errorf("%s: stored", name)
			}
		}
	})
	t.Run("two replicas redeem one code at once: exactly one wins", func(t *testing.T) {
		a, b := open(t)
		race(t, a, b, 50, "code", func(s store.Store, key string, _ int) ([]byte, error) { return s.Take(ctx, key) })
	})
	t.Run("two replicas redeem one code at once: one wins, only its items are stored", func(t *testing.T) {
		a, b := open(t)
		race(t, a, b, 30, "redeem", func(s store.Store, key string, i int) ([]byte, error) {
			return store.Redeem(ctx, s, store.Redemption{Key: key, Puts: []store.Item{
				{Key: key + "-used", Value: []byte{byte('0' + i)}, TTL: time.Minute},
				{Key: key + "-next", Value: []byte(fmt.Sprintf("%d:", i)), TTL: time.Minute, AppendTaken: true},
			}})
		})
		for round := range 30 {
			key := fmt.Sprintf("redeem-%d", round)
			used, _ := b.Get(ctx, key+"-used")
			next, _ := a.Get(ctx, key+"-next")
			if len(used) != 1 || string(next) != string(used[0])+":grant" {
				t.Fatalf("round %d: the items of two redemptions: used %q, next %q", round, used, next)
			}
		}
		// A record of a header line and a body carries the body forward.
		if err := a.Put(ctx, "rt-1", []byte("header-1\nthe grant"), time.Minute); err != nil {
			t.Fatal(err)
		}
		_, err := store.Redeem(ctx, b, store.Redemption{Key: "rt-1", Puts: []store.Item{{Key: "rt-2", Value: []byte("header-2\n"), TTL: time.Minute, AppendTaken: true}}})
		if v, _ := a.Get(ctx, "rt-2"); err != nil || string(v) != "header-2\nthe grant" {
			t.Fatalf("the successor of a header-and-body record: %q %v", v, err)
		}
	})
	t.Run("a redemption an excluded key refuses takes nothing", func(t *testing.T) {
		a, b := open(t)
		if err := a.Put(ctx, "rt", []byte("grant"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := b.Put(ctx, "revoked", []byte{1}, time.Minute); err != nil {
			t.Fatal(err)
		}
		r := store.Redemption{Key: "rt", Unless: []string{"other", "revoked"}, Puts: []store.Item{{Key: "rt-used", Value: []byte{1}, TTL: time.Minute}}}
		if _, err := store.Redeem(ctx, b, r); !errors.Is(err, store.ErrRefused) {
			t.Fatalf("with the family revoked: %v", err)
		}
		if v, err := a.Get(ctx, "rt"); err != nil || string(v) != "grant" {
			t.Fatalf("the refused redemption took the item: %q %v", v, err)
		}
		if _, err := a.Get(ctx, "rt-used"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the refused redemption stored an item: %v", err)
		}
		if _, err := store.Redeem(ctx, a, store.Redemption{Key: "absent", Puts: r.Puts}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an absent key: %v", err)
		}
		if _, err := a.Get(ctx, "rt-used"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a redemption of nothing stored an item: %v", err)
		}
		for name, bad := range map[string]store.Redemption{
			"an item without ttl": {Key: "rt", Puts: []store.Item{{Key: "x", Value: []byte{1}}}},
			"an oversized item":   {Key: "rt", Puts: []store.Item{{Key: "x", Value: make([]byte, store.MaxValueBytes+1), TTL: time.Minute}}},
			"an empty key":        {Key: ""},
		} {
			if _, err := store.Redeem(ctx, a, bad); err == nil || errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if v, err := a.Get(ctx, "rt"); err != nil || string(v) != "grant" {
			t.Fatalf("an invalid redemption took the item: %q %v", v, err)
		}
	})
	t.Run("counters count across replicas within their window", func(t *testing.T) {
		a, b := open(t)
		var wg sync.WaitGroup
		for i := range 20 {
			s := []store.Store{a, b}[i%2]
			wg.Go(func() {
				if _, err := s.Incr(ctx, "rate", 100*time.Millisecond); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n, err := a.Incr(ctx, "rate", 100*time.Millisecond); err != nil || n != 21 {
			t.Fatalf("count %d, %v", n, err)
		}
		time.Sleep(200 * time.Millisecond)
		if n, _ := b.Incr(ctx, "rate", 100*time.Millisecond); n != 1 {
			t.Fatalf("a new window starts at %d", n)
		}
	})
}

// race puts a "grant" under prefix-<round> for each round and has 8
// goroutines, on both replicas, take it at once with take (i is the
// goroutine's number): exactly one may get it, the others ErrNotFound.
func race(t *testing.T, a, b store.Store, rounds int, prefix string, take func(s store.Store, key string, i int) ([]byte, error)) {
	t.Helper()
	for round := range rounds {
		key := fmt.Sprintf("%s-%d", prefix, round)
		if err := a.Put(context.Background(), key, []byte("grant"), time.Minute); err != nil {
			t.Fatal(err)
		}
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := range 8 {
			s := []store.Store{a, b}[i%2]
			wg.Go(func() {
				switch v, err := take(s, key, i); {
				case err == nil && string(v) == "grant":
					wins.Add(1)
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("a losing take: %q %v", v, err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d redemptions of one code", round, wins.Load())
		}
	}
}
