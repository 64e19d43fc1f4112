package store

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// Redemption is a single-use item redeemed and replaced in one step: Key is
// taken (as by Take), unless one of the Unless keys exists; when it was
// taken, Puts are stored in the same step. Authorization servers redeem
// codes and rotate refresh tokens this way: the code taken, its used-marker
// and the new refresh token stored, with one round trip on Redis.
type Redemption struct {
	Key    string
	Unless []string // keys whose presence refuses the redemption (a revoked family): ErrRefused, nothing taken
	Puts   []Item
}

// Item is a value a Redemption stores.
type Item struct {
	Key   string
	Value []byte
	TTL   time.Duration
	// AppendTaken stores Value followed by the taken value, without its
	// first line when it has several: a record made of a header line and a
	// body carries its predecessor's body forward without a second round
	// trip, and without growing from one redemption to the next.
	AppendTaken bool
}

// ErrRefused is the error of a Redemption refused by one of its Unless
// keys.
var ErrRefused = errors.New("store: refused: a key the redemption excludes exists")

// Redeemer is a Store that does a Redemption in one atomic step. Memory and
// store/redisstore (one script, one round trip) are Redeemers.
type Redeemer interface {
	Redeem(ctx context.Context, r Redemption) ([]byte, error)
}

// Redeem does r on s and returns the taken value: ErrNotFound when Key
// holds nothing, ErrRefused when an Unless key exists (then nothing is
// taken or stored). A Redeemer does it in one step; on another Store it is
// done step by step: the Unless keys read, Key taken (still exactly once,
// by Take), then Puts stored, so a crash between the steps can lose Puts,
// never redeem twice.
func Redeem(ctx context.Context, s Store, r Redemption) ([]byte, error) {
	if rd, ok := s.(Redeemer); ok {
		return rd.Redeem(ctx, r) // it checks r
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	for _, k := range r.Unless {
		switch _, err := s.Get(ctx, k); {
		case err == nil:
			return nil, ErrRefused
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	taken, err := s.Take(ctx, r.Key)
	if err != nil {
		return nil, err
	}
	for _, it := range r.Puts {
		if err := s.Put(ctx, it.Key, it.value(taken), it.TTL); err != nil {
			return taken, err
		}
	}
	return taken, nil
}

// Check validates r's keys and items against the bounds, as every Redeemer
// does first (an appended value is checked again once its size is known).
func (r Redemption) Check() error {
	if err := Check(r.Key, nil, time.Second); err != nil {
		return err
	}
	for _, k := range r.Unless {
		if err := Check(k, nil, time.Second); err != nil {
			return err
		}
	}
	for _, it := range r.Puts {
		if err := Check(it.Key, it.Value, it.TTL); err != nil {
			return err
		}
	}
	return nil
}

func (it Item) value(taken []byte) []byte {
	if !it.AppendTaken {
		return it.Value
	}
	if _, body, ok := bytes.Cut(taken, []byte{'\n'}); ok {
		taken = body
	}
	return append(append(make([]byte, 0, len(it.Value)+len(taken)), it.Value...), taken...)
}

// Redeem implements Redeemer: one step under the store's lock.
func (m *Memory) Redeem(_ context.Context, r Redemption) ([]byte, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range r.Unless {
		if it, ok := m.c.Get(k); ok && it.value != nil {
			return nil, ErrRefused
		}
	}
	it, ok := m.c.Get(r.Key)
	if !ok || it.value == nil {
		return nil, ErrNotFound
	}
	values := make([][]byte, len(r.Puts))
	for i, p := range r.Puts { // sizes first: all of them or none
		values[i] = clone(p.value(it.value))
		if err := Check(p.Key, values[i], p.TTL); err != nil {
			return nil, err
		}
	}
	m.c.Delete(r.Key)
	var err error
	for i, p := range r.Puts {
		if !m.c.Set(p.Key, memoryItem{value: values[i], until: time.Now().Add(p.TTL)}, size(p.Key, values[i]), p.TTL) {
			err = ErrFull
		}
	}
	return it.value, err
}
