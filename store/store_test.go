package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/store"
	"github.com/mcpauth/mcpauth/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, store.Store) {
		m := store.NewMemory(0, 0)
		return m, m // replicas of one process share the memory store
	})
}

// A full memory store refuses new items rather than evicting held ones.
func TestMemoryBounded(t *testing.T) {
	m := store.NewMemory(2, 1<<20)
	ctx := context.Background()
	m.Put(ctx, "a", []byte("1"), time.Minute)
	m.Put(ctx, "b", []byte("2"), time.Minute)
	if err := m.Put(ctx, "c", []byte("3"), time.Minute); !errors.Is(err, store.ErrFull) {
		t.Fatalf("past the bound: %v", err)
	}
	if v, _ := m.Get(ctx, "a"); string(v) != "1" {
		t.Fatal("a held item was evicted")
	}
}

func TestKeyring(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	old, err := store.NewKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed := old.Seal([]byte("upstream token"), []byte("key:abc"))
	if bytes.Contains(sealed, []byte("upstream token")) {
		t.Fatal("the plaintext is readable at rest")
	}
	rotated, _ := store.NewKeyring(k2, k1) // new key first, the old one kept
	if pt, err := rotated.Open(sealed, []byte("key:abc")); err != nil || string(pt) != "upstream token" {
		t.Fatalf("opening after rotation: %q %v", pt, err)
	}
	if _, err := rotated.Open(sealed, []byte("key:other")); !errors.Is(err, store.ErrSealed) {
		t.Fatalf("a value moved to another key opened: %v", err)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := rotated.Open(tampered, []byte("key:abc")); !errors.Is(err, store.ErrSealed) {
		t.Fatalf("a tampered value opened: %v", err)
	}
	retired, _ := store.NewKeyring(k2)
	if _, err := retired.Open(sealed, []byte("key:abc")); !errors.Is(err, store.ErrSealed) {
		t.Fatalf("a retired key still opens: %v", err)
	}
	if _, err := store.NewKeyring([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}
