package registration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mcpauth/mcpauth/store"
)

// Store keeps dynamically registered clients. Implementations must be safe
// for concurrent use; a shared store (Redis, SQL) lets several replicas of an
// authorization server see the same registrations.
type Store interface {
	// Put stores c under c.ID.
	Put(ctx context.Context, c *Client) error
	// Get returns the client with id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Client, error)
}

// ErrNotFound is returned for a client id nobody registered.
var ErrNotFound = errors.New("registration: client not found")

// ErrStoreFull is returned by [SharedStore.Put] when the store holds as
// many registrations as it may; the DCR handler answers 503.
var ErrStoreFull = errors.New("registration: the client store is full")

// UsedStore is a [Store] that keeps a registration longer once it has been
// used for a sign-in or a token: [Resolver.Used] calls Used then, so
// registrations nobody ever used expire soon.
type UsedStore interface {
	Store
	Used(ctx context.Context, id string) error
}

// NewMemoryStore returns the in-memory [Store] of one replica: a
// [SharedStore] over a store.Memory holding at most 100,000 registrations
// and 256 MiB, each forgotten ttl after its last use (zero: 30 days), or a
// day after registration when never used, so abandoned registrations
// (every MCP client run may register anew) do not pile up. Past the bound,
// registration answers 503.
func NewMemoryStore(ttl time.Duration) *SharedStore {
	return NewSharedStore(store.NewMemory(maxStoredClients, maxStoredClientBytes), ttl)
}

// Bounds of NewMemoryStore.
const (
	maxStoredClients     = 100_000
	maxStoredClientBytes = 256 << 20
)

// SharedStore is a [Store] kept in a [store.Store], so that every replica
// of an authorization server knows every registration (with
// store/redisstore). A registration lives [UnusedTTL] until its first use
// for a sign-in or a token ([SharedStore.Used]), then its TTL after its
// last such use. Looking it up does not extend it: anyone can look a
// client up, and junk registrations must expire.
type SharedStore struct {
	s   store.Store
	ttl time.Duration
}

// UnusedTTL is how long a registration nobody has used for a sign-in or a
// token is kept.
const UnusedTTL = 24 * time.Hour

// NewSharedStore returns a SharedStore over s; ttl zero means 30 days.
func NewSharedStore(s store.Store, ttl time.Duration) *SharedStore {
	if ttl <= 0 {
		ttl = 30 * 24 * time.Hour
	}
	return &SharedStore{s: s, ttl: ttl}
}

var _ UsedStore = (*SharedStore)(nil)

// storedClient is a Client as kept in a store.Store: the secret only as
// its hash.
type storedClient struct {
	ID         string         `json:"id"`
	Kind       Kind           `json:"kind"`
	Metadata   Metadata       `json:"metadata"`
	IssuedAt   time.Time      `json:"issued_at"`
	SecretHash []byte         `json:"secret_hash,omitempty"`
	Policy     RedirectPolicy `json:"policy"`
}

const clientKeyPrefix = "client:"

// Put stores c for [UnusedTTL] (or the store's TTL when shorter). It fails
// with [ErrStoreFull] when the store is full, and with an error wrapping
// store.ErrUnavailable when it cannot be reached.
func (s *SharedStore) Put(ctx context.Context, c *Client) error {
	b, err := json.Marshal(storedClient{ID: c.ID, Kind: c.Kind, Metadata: c.Metadata, IssuedAt: c.IssuedAt, SecretHash: c.secretHash, Policy: c.policy})
	if err != nil {
		return err
	}
	err = s.s.Put(ctx, clientKeyPrefix+c.ID, b, min(UnusedTTL, s.ttl))
	if errors.Is(err, store.ErrFull) {
		return ErrStoreFull
	}
	return err
}

// Get returns the client.
func (s *SharedStore) Get(ctx context.Context, id string) (*Client, error) {
	b, err := s.s.Get(ctx, clientKeyPrefix+id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, err
	}
	var sc storedClient
	if err := json.Unmarshal(b, &sc); err != nil || sc.ID != id {
		return nil, fmt.Errorf("registration: the stored client %q cannot be read", id)
	}
	return &Client{ID: sc.ID, Kind: sc.Kind, Metadata: sc.Metadata, IssuedAt: sc.IssuedAt, secretHash: sc.SecretHash, policy: sc.Policy}, nil
}

// Used keeps the registration id for the store's TTL from now: it has just
// been used for a sign-in or a token.
func (s *SharedStore) Used(ctx context.Context, id string) error {
	b, err := s.s.Get(ctx, clientKeyPrefix+id)
	if err != nil {
		return err
	}
	return s.s.Put(ctx, clientKeyPrefix+id, b, s.ttl)
}
