package cache

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func TestEntriesExpire(t *testing.T) {
	clk := newClock()
	c := New[int](Options{MaxEntries: 10, MaxBytes: 100, Now: clk.now})
	if !c.Set("a", 1, 1, time.Minute) {
		t.Fatal("Set refused")
	}
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get = %v %v", v, ok)
	}
	clk.advance(time.Minute)
	if _, ok := c.Get("a"); ok {
		t.Fatal("an entry outlived its ttl")
	}
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("expired entry kept: %d entries, %d bytes", c.Len(), c.Bytes())
	}
	if c.Set("b", 1, 1, 0) || c.Set("b", 1, 1, -time.Second) {
		t.Fatal("an entry without a lifetime was stored")
	}
}

// A flood of new keys cannot evict what is held, nor grow the cache past
// its bounds; expired entries make room again, swept at most once a second.
func TestFloodOfNewKeysIsRefusedNotEvicting(t *testing.T) {
	clk := newClock()
	c := New[int](Options{MaxEntries: 3, MaxBytes: 1 << 20, Now: clk.now})
	for i := range 3 {
		if !c.Set(fmt.Sprint("held", i), i, 10, time.Hour) {
			t.Fatalf("Set %d refused", i)
		}
	}
	for i := range 1000 {
		if c.Set(fmt.Sprint("flood", i), i, 10, time.Hour) {
			t.Fatalf("flood entry %d stored in a full cache", i)
		}
	}
	if _, ok := c.Get("held0"); !ok || c.Len() != 3 {
		t.Fatalf("held entry evicted; %d entries", c.Len())
	}
	// Replacing a held key needs no room.
	if !c.Set("held1", 42, 10, time.Hour) {
		t.Fatal("replacing a key in a full cache refused")
	}
	// Once entries expire, a Set sweeps them (the last sweep was over a second ago).
	c2 := New[int](Options{MaxEntries: 2, MaxBytes: 100, Now: clk.now})
	c2.Set("x", 1, 1, time.Second)
	c2.Set("y", 1, 1, time.Hour)
	clk.advance(2 * time.Second)
	if !c2.Set("z", 1, 1, time.Hour) {
		t.Fatal("an expired entry did not make room")
	}
	// A sweep caused by a full cache happens at most once a second.
	c2.Set("w", 1, 1, time.Hour) // full: refused; swept just now, so no sweep
	c3 := New[int](Options{MaxEntries: 1, MaxBytes: 100, Now: clk.now})
	c3.Set("p", 1, 1, 500*time.Millisecond)
	if c3.Set("q", 1, 1, time.Hour) { // full; sweeps, but p lives
		t.Fatal("stored past the bound")
	}
	clk.advance(600 * time.Millisecond) // p expired, but the last sweep was 600 ms ago
	if c3.Set("q", 1, 1, time.Hour) {
		t.Fatal("swept twice within a second")
	}
	clk.advance(500 * time.Millisecond)
	if !c3.Set("q", 1, 1, time.Hour) {
		t.Fatal("no sweep after a second")
	}
}

func TestBytesBound(t *testing.T) {
	c := New[[]byte](Options{MaxEntries: 100, MaxBytes: 1000})
	if c.Set("huge", nil, 1001, time.Hour) {
		t.Fatal("an entry larger than MaxBytes was stored")
	}
	if !c.Set("a", nil, 600, time.Hour) || c.Set("b", nil, 600, time.Hour) {
		t.Fatal("the byte bound is not enforced")
	}
	if !c.Set("a", nil, 900, time.Hour) || c.Bytes() != 900 {
		t.Fatalf("replacement accounting: %d bytes", c.Bytes())
	}
	c.Delete("a")
	if c.Bytes() != 0 || !c.Set("b", nil, 1000, time.Hour) {
		t.Fatalf("Delete did not free bytes: %d", c.Bytes())
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New[int](Options{MaxEntries: 100, MaxBytes: 1 << 20})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				k := fmt.Sprint((g*1000 + i) % 150)
				c.Set(k, i, 8, time.Minute)
				c.Get(k)
				if i%7 == 0 {
					c.Delete(k)
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 100 {
		t.Fatalf("%d entries past the bound", c.Len())
	}
}

func BenchmarkGetHit(b *testing.B) {
	c := New[*int](Options{MaxEntries: 1000, MaxBytes: 1 << 20})
	v := 1
	c.Set("eyJhbGciOiJSUzI1NiJ9.payload.signature", &v, 64, time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		c.Get("eyJhbGciOiJSUzI1NiJ9.payload.signature")
	}
}
