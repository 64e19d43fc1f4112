package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/mcpauth/mcpauth/internal/cache"
	"github.com/mcpauth/mcpauth/internal/retry"
	"github.com/mcpauth/mcpauth/metadata"
	"github.com/mcpauth/mcpauth/scopes"
)

// TokenVerifier validates a raw bearer token and says who it belongs to and
// what it grants. [*Verifier] is the implementation for JWTs and RFC 7662
// introspection; set [Config.Verifier] to plug in another kind of token (API
// keys, a provider's own opaque tokens). Verify must be safe for concurrent
// use. A token it refuses is an [*Error] with a [Reason] about the token
// (ReasonTokenMalformed, ReasonTokenInactive, ReasonExpired...), answered
// 401 so the client signs in again; any other error (its database is down)
// is not the token's fault: it is answered 503 [ReasonVerifierFailed] and
// logged, so clients retry instead of signing in again. Build the Token
// with [NewToken].
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*Token, error)
}

// TokenVerifierFunc adapts a function to [TokenVerifier].
type TokenVerifierFunc func(ctx context.Context, raw string) (*Token, error)

// Verify calls f.
func (f TokenVerifierFunc) Verify(ctx context.Context, raw string) (*Token, error) {
	return f(ctx, raw)
}

// Verifier validates access tokens for one resource: JWTs signed by a
// trusted issuer with a key from its key set, and, when configured, opaque
// tokens through RFC 7662 introspection; then the claims (exp, nbf, iat,
// aud, sub, optional typ) and the granted scopes. Repeated tokens are
// answered from a bounded cache until their exp. Build it with
// [NewVerifier], or let [New] build it; it is safe for concurrent use.
type Verifier struct {
	issuers    map[string]*issuer
	trusted    []string
	audiences  []string
	allowSlash bool
	leeway     time.Duration
	algs       map[string]jws.Verifier
	algList    []string
	typ        string // the JOSE header typ required; "" for any
	norm       *scopes.Normalizer
	maxToken   int
	now        func() time.Time
	observer   Observer

	tokens     *cache.Cache[*Token] // nil when disabled
	cacheTTL   time.Duration
	minGap     time.Duration // KeyRefreshMinGap: when a client may retry after a 503
	introspect *introspector

	cancel context.CancelFunc
}

type issuer struct {
	url       string
	keys      atomic.Pointer[keySource] // nil until a lazily discovered issuer's metadata is found
	audiences []string
}

// NewVerifier builds the Verifier that cfg describes. It discovers the key
// set URL of every issuer configured without one (or without Keys), so it
// fails fast, naming each URL tried, when an authorization server's
// metadata cannot be fetched (unless cfg.LazyDiscovery); key sets
// themselves are fetched on first use and refreshed in the background, so
// an unreachable key set at start-up makes verification fail with
// ReasonKeysetUnavailable (503) until it is reachable. ctx bounds discovery
// only. Call [Verifier.Close] to stop the background work.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	v, err := newVerifier(cfg)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	refresh := orDefault(cfg.KeyRefreshInterval, defaultRefresh)
	minGap := orDefault(cfg.KeyRefreshMinGap, defaultMinGap)

	bg, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	if v.tokens != nil {
		go sweepEvery(bg, time.Minute, v.tokens.Sweep)
	}
	var keyCache *jwk.Cache // made for the first issuer that needs one
	for _, ic := range cfg.Issuers {
		is := v.issuers[ic.URL]
		if ic.Keys != nil {
			is.keys.Store(keySourceOf(ic.Keys))
			continue
		}
		if keyCache == nil {
			cacheOpts := []jwk.CacheOption{jwk.WithRefreshWindow(max(time.Second, refresh/2))}
			if v.observer != nil { // background refreshes that fail; which issuer's is not known here
				cacheOpts = append(cacheOpts, jwk.WithErrSink(errSink(func(err error) { v.observer.KeyRefresh("", err) })))
			}
			keyCache = jwk.NewCache(bg, cacheOpts...)
		}
		keySetOf := func(ctx context.Context) (*keySource, error) {
			jwksURL := ic.JWKSURL
			if jwksURL == "" {
				m, err := metadata.Discover(ctx, client, ic.URL)
				if err != nil {
					return nil, fmt.Errorf("issuer %q has no JWKSURL and its metadata cannot be discovered: %w", ic.URL, err)
				}
				if m.JWKSURI == "" {
					return nil, fmt.Errorf("issuer %q: its metadata has no jwks_uri; set Issuer.JWKSURL", ic.URL)
				}
				jwksURL = m.JWKSURI
			}
			if err := checkURL("key set URL of issuer "+ic.URL, jwksURL, cfg.InsecureAllowHTTP); err != nil {
				return nil, err
			}
			ks, err := newRemoteKeySet(keyCache, ic.URL, jwksURL, client, refresh, minGap, v.now, v.observer)
			if err != nil {
				return nil, fmt.Errorf("issuer %q: %w", ic.URL, err)
			}
			return ks, nil
		}
		if cfg.LazyDiscovery && ic.JWKSURL == "" {
			// Until found, its tokens get 503 keyset_unavailable with Retry-After.
			go retry.Until(bg, func(ctx context.Context) error {
				ks, err := keySetOf(ctx)
				if err == nil {
					is.keys.Store(ks)
				}
				return err
			}, func(err error, _ time.Duration) {
				if v.observer != nil {
					v.observer.KeyRefresh(is.url, err)
				}
			})
			continue
		}
		ks, err := keySetOf(ctx)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("auth: %w", err)
		}
		is.keys.Store(ks)
	}
	if cfg.Introspection != nil {
		v.introspect = newIntrospector(*cfg.Introspection, client)
	}
	return v, nil
}

// newVerifier validates cfg and fills everything that needs no network.
func newVerifier(cfg VerifierConfig) (*Verifier, error) {
	if len(cfg.Issuers) == 0 && cfg.Introspection == nil {
		return nil, errors.New("VerifierConfig.Issuers is empty and VerifierConfig.Introspection is nil: no token could ever be accepted")
	}
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("VerifierConfig.Audiences is empty: name the audience this server's tokens carry, its canonical resource URL")
	}
	v := &Verifier{
		issuers:    map[string]*issuer{},
		allowSlash: cfg.AllowAudienceTrailingSlash,
		leeway:     max(0, orDefault(cfg.Leeway, defaultLeeway)),
		typ:        cfg.Type,
		norm:       cfg.Scopes,
		maxToken:   orDefaultInt(cfg.MaxTokenBytes, defaultMaxTokenBytes),
		now:        cfg.Now,
		observer:   cfg.Observer,
		cacheTTL:   orDefault(cfg.TokenCacheTTL, defaultTokenCacheTTL),
		minGap:     orDefault(cfg.KeyRefreshMinGap, defaultMinGap),
	}
	if v.now == nil {
		v.now = time.Now
	}
	if cfg.RequireJWTAccessTokenType {
		if cfg.Type != "" && !strings.EqualFold(cfg.Type, "at+jwt") {
			return nil, fmt.Errorf("VerifierConfig.RequireJWTAccessTokenType requires typ at+jwt and VerifierConfig.Type %q; set one", cfg.Type)
		}
		v.typ = "at+jwt"
	}
	if v.cacheTTL > 0 {
		v.tokens = cache.New[*Token](cache.Options{MaxEntries: maxCachedTokens, MaxBytes: maxCachedTokenBytes, Now: cfg.Now})
	}
	for _, ic := range cfg.Issuers {
		if err := checkURL("issuer", ic.URL, cfg.InsecureAllowHTTP); err != nil {
			return nil, err
		}
		if _, dup := v.issuers[ic.URL]; dup {
			return nil, fmt.Errorf("issuer %q is listed twice", ic.URL)
		}
		if ic.Keys != nil && ic.JWKSURL != "" {
			return nil, fmt.Errorf("issuer %q has both Keys and a JWKSURL; set one", ic.URL)
		}
		v.issuers[ic.URL] = &issuer{url: ic.URL, audiences: slices.Clone(ic.Audiences)}
		v.trusted = append(v.trusted, ic.URL)
	}
	if in := cfg.Introspection; in != nil {
		if err := checkURL("introspection endpoint", in.Endpoint, cfg.InsecureAllowHTTP); err != nil {
			return nil, err
		}
		if in.Issuer != "" && v.issuers[in.Issuer] == nil {
			v.trusted = append(v.trusted, in.Issuer)
		}
	}
	v.audiences = slices.Clone(cfg.Audiences)
	for _, aud := range v.audiences {
		if aud == "" {
			return nil, errors.New("VerifierConfig.Audiences has an empty value")
		}
	}
	v.algList = cfg.Algorithms
	if len(v.algList) == 0 {
		v.algList = defaultAlgorithms
	}
	var err error
	if v.algs, err = newAlgorithms(v.algList); err != nil {
		return nil, err
	}
	return v, nil
}

// Verify validates a raw access token and returns it. Repeated tokens are
// answered from a cache without a signature check until their exp. The error
// is always an [*Error]; its Reason says why (see the README's
// troubleshooting table).
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	if t := v.cached(raw); t != nil { // a cached token passed every check, its size too
		return t, nil
	}
	return v.verifyUncached(ctx, raw)
}

// verifyUncached validates raw, which the cache does not hold, and caches
// it.
func (v *Verifier) verifyUncached(ctx context.Context, raw string) (*Token, error) {
	if err := checkTokenSize(raw, v.maxToken); err != nil {
		return nil, err
	}
	if v.tokens != nil {
		v.observeCache(false)
	}
	var (
		t   *Token
		err error
	)
	switch {
	case v.introspect == nil || strings.Count(raw, ".") >= 2:
		t, err = v.verifyJWT(ctx, raw)
	default:
		t, err = v.verifyIntrospected(ctx, raw)
	}
	if err != nil {
		if e, ok := err.(*Error); ok && e.Reason.Status() == http.StatusServiceUnavailable {
			e.retryAfter = v.minGap
		}
		return nil, err
	}
	if v.tokens != nil {
		ttl := min(v.cacheTTL, t.Expiry.Sub(v.now()))
		if t.Introspected {
			ttl = min(ttl, v.introspect.ttl)
		}
		v.tokens.Set(raw, t, cachedTokenSize(raw), ttl) // when full, the token is verified again next time
	}
	return t, nil
}

// cached returns the validated token raw from the cache, or nil (also for
// a nil v, or a cache that is off).
func (v *Verifier) cached(raw string) *Token {
	if v == nil || v.tokens == nil {
		return nil
	}
	t, ok := v.tokens.Get(raw) // an entry never outlives its token's exp (see Verify)
	if !ok {
		return nil
	}
	v.observeCache(true)
	return t
}

func (v *Verifier) observeCache(hit bool) {
	if v.observer != nil {
		v.observer.TokenCache(hit)
	}
}

// cachedTokenSize bounds what a cached token costs: the raw token (the
// cache key, and kept by the Token for its fingerprint), the buffer its
// claims share (a copy of the token and its decoded parts), and the Token
// itself.
func cachedTokenSize(raw string) int64 { return int64(4*len(raw)) + 512 }

// checkTokenSize refuses a token over max bytes before anything parses it.
func checkTokenSize(raw string, max int) error {
	if len(raw) > max {
		return fail(ReasonTokenTooLarge, "the token is %d bytes, more than the %d allowed", len(raw), max)
	}
	return nil
}

// Close stops the background key set refreshes and cache sweeps. The
// Verifier keeps validating with the keys it has.
func (v *Verifier) Close() error {
	if v.cancel != nil {
		v.cancel()
	}
	return nil
}

// errSink receives the errors of jwk.Cache's background refreshes.
type errSink func(error)

func (f errSink) Error(err error) { f(err) }

// sweepEvery calls sweep every interval until ctx ends: caches have no
// janitor goroutine of their own that could outlive Close.
func sweepEvery(ctx context.Context, interval time.Duration, sweep func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sweep()
		}
	}
}
