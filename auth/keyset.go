package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// KeySet is where a [Verifier] finds an issuer's public keys, when they do
// not come from its JWKS URL (see [Issuer].Keys): keys pinned in
// configuration ([NewStaticKeySet]), or fetched your own way. It must be
// safe for concurrent use.
type KeySet interface {
	// Keys returns the public keys that may verify a signature made with
	// alg ("RS256", "ES256", "EdDSA"...) by the key kid ("" when the token
	// names none): *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey;
	// keys of another type or for another algorithm are skipped. No key is
	// answered 401 key_unknown; an error means the keys cannot be had now,
	// answered 503 keyset_unavailable so that clients retry.
	Keys(ctx context.Context, kid, alg string) ([]crypto.PublicKey, error)
}

// NewStaticKeySet returns the keys of a JWKS document (RFC 7517) as a
// [KeySet] that never changes: for keys pinned in configuration, tests,
// and air-gapped deployments. It keeps each key's kid and alg; private and
// symmetric keys, and keys whose use is "enc", are never used. It fails on
// a document that is not a key set or holds no usable public key.
func NewStaticKeySet(jwks []byte) (KeySet, error) {
	set, err := jwk.Parse(jwks)
	if err != nil {
		return nil, fmt.Errorf("auth: NewStaticKeySet: not a JWKS document: %w", err)
	}
	idx := buildIndex(set)
	if len(idx.all) == 0 {
		return nil, fmt.Errorf("auth: NewStaticKeySet: the document holds no usable public signing key (of %d keys)", set.Len())
	}
	return staticKeySet{idx}, nil
}

// keyFinder is what a Verifier asks for keys: each KeySet of this package
// answers from an index built once per key set; another KeySet is adapted
// by customKeySet.
type keyFinder interface {
	verifyKeys(ctx context.Context, kid, alg string) ([]verifyKey, error)
}

// keySource is the keys of one issuer.
type keySource struct{ keyFinder }

func keySourceOf(ks KeySet) *keySource {
	if f, ok := ks.(keyFinder); ok {
		return &keySource{f}
	}
	return &keySource{customKeySet{ks}}
}

// staticKeySet is the KeySet of NewStaticKeySet.
type staticKeySet struct{ idx *keyIndex }

func (s staticKeySet) Keys(_ context.Context, kid, alg string) ([]crypto.PublicKey, error) {
	var out []crypto.PublicKey
	for _, k := range s.idx.find(kid, alg) {
		out = append(out, k.raw)
	}
	return out, nil
}

func (s staticKeySet) verifyKeys(_ context.Context, kid, alg string) ([]verifyKey, error) {
	if k := s.idx.find(kid, alg); len(k) > 0 {
		return k, nil
	}
	return nil, fail(ReasonKeyUnknown, "no key with kid %q for %s among the issuer's configured keys", kid, alg)
}

// customKeySet adapts a KeySet of the caller's.
type customKeySet struct{ ks KeySet }

func (c customKeySet) verifyKeys(ctx context.Context, kid, alg string) ([]verifyKey, error) {
	keys, err := c.ks.Keys(ctx, kid, alg)
	if err != nil {
		return nil, &Error{Reason: ReasonKeysetUnavailable, Description: "the issuer's keys cannot be had now; retry later", Err: err}
	}
	var out []verifyKey
	for _, raw := range keys {
		if k := (verifyKey{kid: kid, raw: raw}); k.usable() && k.compatible(alg) && len(out) < maxKeysTried {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fail(ReasonKeyUnknown, "the issuer's key set has no %s key with kid %q", alg, kid)
	}
	return out, nil
}

// remoteKeySet is one issuer's JWKS: a jwk.Cache entry refreshed in the
// background, plus an index of usable public keys rebuilt after every
// successful fetch. The index is read without locks on every verification;
// jwk.Cache.Get serializes callers, so it is never on the request path.
type remoteKeySet struct {
	issuer   string
	url      string
	cache    *jwk.Cache
	minGap   time.Duration
	now      func() time.Time
	observer Observer

	idx atomic.Pointer[keyIndex]

	mu       sync.Mutex
	inflight chan struct{} // closed when the running refresh ends
	lastTry  time.Time
	lastErr  error
	unknown  map[string]time.Time // kids a refresh did not find, and when
}

type verifyKey struct {
	kid string
	alg string           // "" when the JWK has no alg
	raw crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

type keyIndex struct {
	byKID map[string][]verifyKey
	all   []verifyKey
}

// maxKeysTried bounds the keys tried for a token without kid.
const maxKeysTried = 8

func newRemoteKeySet(cache *jwk.Cache, issuer, url string, client *http.Client, interval, minGap time.Duration, now func() time.Time, observer Observer) (*keySource, error) {
	ks := &remoteKeySet{issuer: issuer, url: url, cache: cache, minGap: minGap, now: now, observer: observer, unknown: map[string]time.Time{}}
	err := cache.Register(url,
		jwk.WithHTTPClient(limitedClient{client}),
		jwk.WithRefreshInterval(interval),
		jwk.WithMinRefreshInterval(interval),
		jwk.WithPostFetcher(jwk.PostFetchFunc(func(_ string, set jwk.Set) (jwk.Set, error) {
			ks.idx.Store(buildIndex(set))
			if observer != nil {
				observer.KeyRefresh(issuer, nil)
			}
			return set, nil
		})),
	)
	if err != nil {
		return nil, err
	}
	return &keySource{ks}, nil
}

func buildIndex(set jwk.Set) *keyIndex {
	idx := &keyIndex{byKID: map[string][]verifyKey{}}
	for i := 0; i < set.Len(); i++ {
		k, ok := set.Key(i)
		if !ok || k.KeyUsage() == "enc" {
			continue
		}
		raw, err := jwk.PublicRawKeyOf(k)
		if err != nil {
			continue // symmetric or unusable keys never verify anything here
		}
		vk := verifyKey{kid: k.KeyID(), raw: raw}
		if !vk.usable() {
			continue
		}
		if a := k.Algorithm(); a != nil {
			vk.alg = a.String()
		}
		idx.all = append(idx.all, vk)
		idx.byKID[vk.kid] = append(idx.byKID[vk.kid], vk)
	}
	return idx
}

// usable reports whether k is a public key of a type that verifies JWS
// signatures here.
func (k verifyKey) usable() bool {
	switch k.raw.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// compatible reports whether k may verify a signature made with alg: the
// JWK's own alg when it has one, otherwise its key type and curve.
func (k verifyKey) compatible(alg string) bool {
	if k.alg != "" {
		return k.alg == alg
	}
	switch raw := k.raw.(type) {
	case *rsa.PublicKey:
		return len(alg) == 5 && (alg[:2] == "RS" || alg[:2] == "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return raw.Curve.Params().Name == "P-256"
		case "ES384":
			return raw.Curve.Params().Name == "P-384"
		case "ES512":
			return raw.Curve.Params().Name == "P-521"
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

func (idx *keyIndex) find(kid, alg string) []verifyKey {
	if idx == nil {
		return nil
	}
	cands := idx.all
	if kid != "" {
		cands = idx.byKID[kid]
	}
	// The common case, one matching key, allocates nothing.
	if len(cands) == 1 && cands[0].compatible(alg) {
		return cands
	}
	var out []verifyKey
	for _, k := range cands {
		if k.compatible(alg) && len(out) < maxKeysTried {
			out = append(out, k)
		}
	}
	return out
}

// verifyKeys returns the keys that may verify a token with kid and alg. An
// unknown kid triggers at most one refresh per minGap, shared by all
// concurrent callers; a kid a refresh did not find is remembered as unknown
// for minGap.
func (ks *remoteKeySet) verifyKeys(ctx context.Context, kid, alg string) ([]verifyKey, error) {
	if k := ks.idx.Load().find(kid, alg); len(k) > 0 {
		return k, nil
	}
	if ks.idx.Load() != nil && ks.recentlyUnknown(kid) {
		return nil, fail(ReasonKeyUnknown, "no key with kid %q for %s in the key set (refreshed moments ago)", kid, alg)
	}
	ran, err := ks.refresh(ctx)
	idx := ks.idx.Load()
	if k := idx.find(kid, alg); len(k) > 0 {
		return k, nil
	}
	if idx == nil || err != nil {
		if err == nil {
			err = errors.New("no key set fetched yet")
		}
		return nil, &Error{Reason: ReasonKeysetUnavailable, Description: "the authorization server's key set cannot be fetched; retry later", Err: err}
	}
	if ran {
		ks.mu.Lock()
		if len(ks.unknown) > 1024 {
			clear(ks.unknown)
		}
		ks.unknown[kid] = ks.now()
		ks.mu.Unlock()
	}
	return nil, fail(ReasonKeyUnknown, "no key with kid %q for %s in the authorization server's key set", kid, alg)
}

func (ks *remoteKeySet) recentlyUnknown(kid string) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	t, ok := ks.unknown[kid]
	return ok && ks.now().Sub(t) < ks.minGap
}

// refresh fetches the key set unless one fetch is already running (then it
// waits for that one) or the last began less than minGap ago (then it returns
// that one's error). ran reports whether a fetch happened for this caller.
func (ks *remoteKeySet) refresh(ctx context.Context) (ran bool, err error) {
	ks.mu.Lock()
	if ch := ks.inflight; ch != nil {
		ks.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		ks.mu.Lock()
		defer ks.mu.Unlock()
		return true, ks.lastErr
	}
	if !ks.lastTry.IsZero() && ks.now().Sub(ks.lastTry) < ks.minGap {
		defer ks.mu.Unlock()
		return false, ks.lastErr
	}
	ch := make(chan struct{})
	ks.inflight, ks.lastTry = ch, ks.now()
	ks.mu.Unlock()

	// The fetch outlives the caller that started it: others wait on it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	_, err = ks.cache.Refresh(fctx, ks.url)
	cancel()

	ks.mu.Lock()
	ks.lastErr, ks.inflight = err, nil
	ks.mu.Unlock()
	close(ch)
	if err != nil && ks.observer != nil {
		ks.observer.KeyRefresh(ks.issuer, err) // a success was reported as the keys arrived
	}
	return true, err
}

// limitedClient is the HTTP client jwk.Cache fetches key sets with. It bounds
// each fetch, body included, by fetchTimeout whatever the configured client's
// own timeout (a slow-drip endpoint cannot hold a refresh forever), and caps
// the body so a hostile or broken endpoint cannot exhaust memory.
type limitedClient struct{ c *http.Client }

const fetchTimeout = 15 * time.Second

func (l limitedClient) Get(u string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := l.c.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &capReader{r: resp.Body, left: maxKeySetBytes, cancel: cancel}
	return resp, nil
}

type capReader struct {
	r      io.ReadCloser
	left   int64
	cancel context.CancelFunc
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.cancel() // give the connection up now: nobody will read or close it
		return 0, fmt.Errorf("response larger than %d bytes", maxKeySetBytes)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.cancel() // jwk.Cache reads to EOF and never closes the body
	}
	c.left -= int64(n)
	if c.left < 0 {
		c.cancel()
		return n, fmt.Errorf("response larger than %d bytes", maxKeySetBytes)
	}
	return n, err
}

func (c *capReader) Close() error {
	defer c.cancel()
	return c.r.Close()
}
