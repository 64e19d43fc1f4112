package registration

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/store"
)

// One source over its budget does not use up everyone's, and all sources
// together stop at the global budget, with counters in memory and in a
// shared store.
func TestGlobalRegistrationBudget(t *testing.T) {
	for name, rates := range map[string]store.Store{"in memory": nil, "shared store": store.NewMemory(0, 0)} {
		t.Run(name, func(t *testing.T) {
			h := &DCRHandler{Store: NewMemoryStore(0), Policy: Policy{Redirects: RedirectPolicy{AllowLocalhost: true}, RateLimit: 3, GlobalRateLimit: 5,
				RateStore: rates, RateKey: func(r *http.Request) string { return r.Header.Get("X-Source") }}}
			from := func(src string, n int) (created, refused int) {
				for range n {
					rec, _ := register(t, h, "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`, map[string]string{"X-Source": src})
					switch rec.Code {
					case http.StatusCreated:
						created++
					case http.StatusTooManyRequests:
						refused++
					default:
						t.Fatalf("%s: %d %s", src, rec.Code, rec.Body)
					}
				}
				return created, refused
			}
			if c, r := from("a", 10); c != 3 || r != 7 {
				t.Fatalf("source a: %d created, %d refused; want 3 and 7", c, r)
			}
			if c, r := from("b", 3); c != 2 || r != 1 {
				t.Fatalf("source b after a's flood: %d created, %d refused; want 2 and 1 (the global budget of 5)", c, r)
			}
			if c, _ := from("c", 1); c != 0 {
				t.Fatal("a third source registered past the global budget")
			}
		})
	}
}

// ttlStore records the lifetime each key was last stored for.
type ttlStore struct {
	store.Store
	mu   sync.Mutex
	ttls map[string]time.Duration
}

func (s *ttlStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	s.ttls[key] = ttl
	s.mu.Unlock()
	return s.Store.Put(ctx, key, value, ttl)
}

// A registration nobody uses is kept a day; looking it up (anyone can)
// does not extend it; its use for a sign-in or a token keeps it for the
// store's TTL.
func TestUnusedRegistrationsExpire(t *testing.T) {
	rec := &ttlStore{Store: store.NewMemory(0, 0), ttls: map[string]time.Duration{}}
	s := NewSharedStore(rec, 30*24*time.Hour)
	r := &Resolver{Store: s}
	c, _, err := (&Policy{}).Register(Metadata{RedirectURIs: []string{"https://app.example/cb"}, TokenEndpointAuthMethod: "none"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := rec.ttls["client:"+c.ID]; got != UnusedTTL {
		t.Fatalf("a new registration is kept %v, want %v", got, UnusedTTL)
	}
	for range 3 {
		if _, err := r.Client(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.ttls["client:"+c.ID]; got != UnusedTTL {
		t.Fatalf("lookups extended an unused registration to %v", got)
	}
	r.Used(ctx, c)
	if got := rec.ttls["client:"+c.ID]; got != 30*24*time.Hour {
		t.Fatalf("a used registration is kept %v, want 30 days", got)
	}
}

// A registration's metadata is bounded in size, whatever field carries it.
func TestRegistrationMetadataBounded(t *testing.T) {
	p := &Policy{}
	for name, md := range map[string]Metadata{
		"client_name": {ClientName: strings.Repeat("n", 5000)},
		"contacts":    {Contacts: []string{strings.Repeat("c", 3000), strings.Repeat("d", 3000)}},
		"jwks":        {JWKS: map[string]any{"keys": []any{strings.Repeat("k", 5000)}}},
	} {
		md.RedirectURIs, md.TokenEndpointAuthMethod = []string{"https://app.example/cb"}, "none"
		if _, _, err := p.Register(md); err == nil || !strings.Contains(err.Error(), "at most 4096") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := p.Register(Metadata{RedirectURIs: []string{"https://app.example/cb"}, TokenEndpointAuthMethod: "none", ClientName: "Claude"}); err != nil {
		t.Fatalf("a real client's registration: %v", err)
	}
}
