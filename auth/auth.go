package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	gocache "github.com/patrickmn/go-cache"

	"github.com/mcpauth/mcpauth/metadata"
	"github.com/mcpauth/mcpauth/scopes"
)

// Authenticator validates bearer tokens for one protected resource and
// serves its metadata. Build it once with [New]; it is safe for concurrent
// use. Call [Authenticator.Close] to stop its background key refreshes.
type Authenticator struct {
	resource   string
	issuers    map[string]*issuer
	trusted    []string
	audiences  []string
	allowSlash bool
	leeway     time.Duration
	verifiers  map[string]jws.Verifier
	algList    []string
	requireTyp bool
	norm       *scopes.Normalizer
	baseline   scopes.Requirement
	maxToken   int
	maxBody    int64
	now        func() time.Time
	logger     *slog.Logger

	tokens   *gocache.Cache // raw token -> *Token; nil when disabled
	sessions *sessionTable  // Mcp-Session-Id -> the subject that created it
	inflight *inflightTable // JSON-RPC ids of sessionless requests in flight -> their subject
	cacheTTL time.Duration

	introspect *introspector

	trace   *Trace
	metrics *Metrics

	challengeScopes   ChallengeScopes
	challengeBaseline string // scope of 401 challenges
	retryAfter        int    // seconds, for 503 answers

	prmMu               sync.RWMutex
	prm                 metadata.ProtectedResource
	prmHandler          http.Handler
	explicitSupported   bool
	resourceMetadataURL string   // absolute, path-inserted
	metadataPaths       []string // request paths that serve the metadata

	cancel context.CancelFunc
}

type issuer struct {
	url       string
	keys      *keySet
	audiences []string
}

// New checks cfg and builds an Authenticator. It discovers the key set URL
// of every issuer configured without one, so it fails fast, naming each URL
// tried, when an authorization server's metadata cannot be fetched; key sets
// themselves are fetched on first use and refreshed in the background, so an
// unreachable key set at start-up makes requests answer 503 until it is
// reachable rather than stopping the server. ctx bounds discovery only.
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	a, err := newAuthenticator(cfg)
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
	a.cancel = cancel
	go a.sweep(bg)
	cache := jwk.NewCache(bg, jwk.WithRefreshWindow(max(time.Second, refresh/2)))
	for _, ic := range cfg.Issuers {
		jwksURL := ic.JWKSURL
		if jwksURL == "" {
			m, err := metadata.Discover(ctx, client, ic.URL)
			if err != nil {
				cancel()
				return nil, fmt.Errorf("auth: issuer %q has no JWKSURL and its metadata cannot be discovered: %w", ic.URL, err)
			}
			if m.JWKSURI == "" {
				cancel()
				return nil, fmt.Errorf("auth: issuer %q: its metadata has no jwks_uri; set Issuer.JWKSURL", ic.URL)
			}
			jwksURL = m.JWKSURI
		}
		if err := checkURL("key set URL of issuer "+ic.URL, jwksURL, cfg.InsecureAllowHTTP); err != nil {
			cancel()
			return nil, fmt.Errorf("auth: %w", err)
		}
		ks, err := newKeySet(cache, jwksURL, client, refresh, minGap, a.now)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("auth: issuer %q: %w", ic.URL, err)
		}
		a.issuers[ic.URL].keys = ks
	}
	if cfg.Introspection != nil {
		a.introspect = newIntrospector(*cfg.Introspection, client)
	}
	return a, nil
}

// newAuthenticator validates cfg and fills everything that needs no network.
func newAuthenticator(cfg Config) (*Authenticator, error) {
	resource, err := metadata.CanonicalResource(cfg.Resource, cfg.InsecureAllowHTTP)
	if err != nil {
		if cfg.Resource == "" {
			return nil, errors.New("Config.Resource is required: the public URL of the MCP endpoint")
		}
		return nil, fmt.Errorf("Config.Resource: %w", err)
	}
	if len(cfg.Issuers) == 0 && cfg.Introspection == nil {
		return nil, errors.New("Config.Issuers is empty and Config.Introspection is nil: no token could ever be accepted")
	}
	a := &Authenticator{
		resource:   resource,
		issuers:    map[string]*issuer{},
		allowSlash: cfg.AllowAudienceTrailingSlash,
		leeway:     orDefault(cfg.Leeway, defaultLeeway),
		requireTyp: cfg.RequireJWTAccessTokenType,
		norm:       cfg.Scopes,
		maxToken:   cfg.MaxTokenBytes,
		maxBody:    cfg.MaxBodyBytes,
		now:        cfg.Now,
		logger:     cfg.Logger,
		trace:      cfg.Trace,
		metrics:    cfg.Metrics,
		cacheTTL:   orDefault(cfg.TokenCacheTTL, defaultTokenCacheTTL),
	}
	if a.leeway < 0 {
		a.leeway = 0
	}
	if a.maxToken <= 0 {
		a.maxToken = defaultMaxTokenBytes
	}
	if a.maxBody <= 0 {
		a.maxBody = defaultMaxBodyBytes
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.sessions = newSessionTable(orDefaultInt(cfg.MaxSessions, defaultMaxSessions), orDefaultInt(cfg.MaxSessionsPerSubject, defaultMaxPerSubject),
		orDefault(cfg.SessionIdleTimeout, defaultSessionIdle), a.now)
	a.inflight = newInflightTable(maxInflight)
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.cacheTTL > 0 {
		a.tokens = gocache.New(a.cacheTTL, 0)
	}
	for _, ic := range cfg.Issuers {
		if err := checkURL("issuer", ic.URL, cfg.InsecureAllowHTTP); err != nil {
			return nil, err
		}
		if _, dup := a.issuers[ic.URL]; dup {
			return nil, fmt.Errorf("issuer %q is listed twice", ic.URL)
		}
		a.issuers[ic.URL] = &issuer{url: ic.URL, audiences: slices.Clone(ic.Audiences)}
		a.trusted = append(a.trusted, ic.URL)
	}
	if in := cfg.Introspection; in != nil {
		if err := checkURL("introspection endpoint", in.Endpoint, cfg.InsecureAllowHTTP); err != nil {
			return nil, err
		}
		if in.Issuer != "" && a.issuers[in.Issuer] == nil {
			a.trusted = append(a.trusted, in.Issuer)
		}
	}
	a.audiences = slices.Clone(cfg.Audiences)
	if len(a.audiences) == 0 {
		a.audiences = []string{resource}
	}
	for _, aud := range a.audiences {
		if aud == "" {
			return nil, errors.New("Config.Audiences has an empty value")
		}
	}
	a.algList = cfg.Algorithms
	if len(a.algList) == 0 {
		a.algList = defaultAlgorithms
	}
	if a.verifiers, err = newVerifiers(a.algList); err != nil {
		return nil, err
	}
	for _, s := range cfg.BaselineScopes {
		if !scopes.ValidToken(s) {
			return nil, fmt.Errorf("Config.BaselineScopes: %q is not a valid scope token", s)
		}
	}
	a.baseline = scopes.All(cfg.BaselineScopes...)
	a.challengeScopes = cfg.ChallengeScopes
	a.retryAfter = max(1, int(orDefault(cfg.KeyRefreshMinGap, defaultMinGap).Seconds()))
	if err := a.buildMetadata(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Authenticator) buildMetadata(cfg Config) error {
	servers := cfg.AuthorizationServers
	if len(servers) == 0 {
		servers = a.trusted
	}
	if len(servers) == 0 {
		return errors.New("Config.AuthorizationServers is empty and there are no issuers to advertise")
	}
	supported := cfg.ScopesSupported
	a.explicitSupported = len(supported) > 0
	if len(supported) == 0 {
		supported = cfg.BaselineScopes
	}
	for _, s := range supported {
		if !scopes.ValidToken(s) {
			return fmt.Errorf("Config.ScopesSupported: %q is not a valid scope token", s)
		}
	}
	a.challengeBaseline = scopes.New(cfg.BaselineScopes...).String()
	if a.challengeBaseline == "" {
		a.challengeBaseline = scopes.New(supported...).Without(scopes.OfflineAccess).String()
	}
	a.prm = metadata.ProtectedResource{
		Resource:               a.resource,
		AuthorizationServers:   slices.Clone(servers),
		ScopesSupported:        scopes.New(supported...).Without(scopes.OfflineAccess).Slice(),
		BearerMethodsSupported: []string{"header"},
		ResourceName:           cfg.ResourceName,
		ResourceDocumentation:  cfg.ResourceDocumentation,
	}
	a.prmHandler = metadata.Handler(a.prm)
	pathURL, rootURL, err := metadata.WellKnownURLs(a.resource)
	if err != nil {
		return err
	}
	a.resourceMetadataURL = pathURL
	for _, u := range []string{pathURL, rootURL} {
		p, _ := url.Parse(u)
		if !slices.Contains(a.metadataPaths, p.Path) {
			a.metadataPaths = append(a.metadataPaths, p.Path)
		}
	}
	return nil
}

// checkURL requires an absolute https URL, or http on a loopback host (any
// host when insecure is set).
func checkURL(what, raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute URL", what, raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if insecure || metadata.IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s %q uses plain http on a non-loopback host; use https (or Config.InsecureAllowHTTP for a private test network)", what, raw)
	}
	return fmt.Errorf("%s %q: scheme must be https", what, raw)
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func orDefaultInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// SessionIdleTimeout returns how long a session binding lives without use
// ([Config.SessionIdleTimeout]); the MCP server's sessions should idle out
// after the same time.
func (a *Authenticator) SessionIdleTimeout() time.Duration { return a.sessions.ttl }

// sweep drops expired cache entries every minute until ctx ends. The
// caches have no go-cache janitor, whose goroutine would outlive Close.
func (a *Authenticator) sweep(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if a.tokens != nil {
				a.tokens.DeleteExpired()
			}
			a.sessions.sweep()
		}
	}
}

// Close stops background key set refreshes. The Authenticator keeps
// validating with the keys it has.
func (a *Authenticator) Close() error {
	if a.cancel != nil {
		a.cancel()
	}
	return nil
}

// Resource returns the canonical resource identifier.
func (a *Authenticator) Resource() string { return a.resource }

// Metadata returns the protected resource metadata document the
// Authenticator serves.
func (a *Authenticator) Metadata() metadata.ProtectedResource {
	a.prmMu.RLock()
	defer a.prmMu.RUnlock()
	return a.prm
}

// AdvertiseScopes adds scopes to the scopes_supported of the metadata, unless
// [Config.ScopesSupported] set it explicitly (then it does nothing).
// offline_access and invalid scope tokens are never advertised. Integrations
// call it with the scopes their operations require.
func (a *Authenticator) AdvertiseScopes(s ...string) {
	a.prmMu.Lock()
	defer a.prmMu.Unlock()
	if a.explicitSupported {
		return
	}
	var valid []string
	for _, sc := range s {
		if scopes.ValidToken(sc) {
			valid = append(valid, sc)
		}
	}
	a.prm.ScopesSupported = scopes.New(a.prm.ScopesSupported...).Union(scopes.New(valid...)).Without(scopes.OfflineAccess).Slice()
	a.prmHandler = metadata.Handler(a.prm)
}

// ResourceMetadataURL returns the absolute URL of the metadata, as the
// challenges' resource_metadata parameter gives it.
func (a *Authenticator) ResourceMetadataURL() string { return a.resourceMetadataURL }

// Scopes returns the scope normalizer in use (nil means the strict default).
func (a *Authenticator) Scopes() *scopes.Normalizer { return a.norm }

// Verify validates a raw access token and returns it. Repeated tokens are
// answered from a cache without a signature check until their exp. The error
// is always an [*Error].
func (a *Authenticator) Verify(ctx context.Context, raw string) (*Token, error) {
	if len(raw) > a.maxToken {
		return nil, fail(ReasonTokenTooLarge, "the token is %d bytes, more than the %d allowed", len(raw), a.maxToken)
	}
	if a.tokens != nil {
		if v, ok := a.tokens.Get(raw); ok {
			t := v.(*Token)
			if a.now().Before(t.Expiry.Add(a.leeway)) {
				return t, nil
			}
			a.tokens.Delete(raw)
		}
	}
	var (
		t   *Token
		err error
	)
	switch {
	case strings.Count(raw, ".") >= 2 || a.introspect == nil:
		t, err = a.verifyJWT(ctx, raw)
	default:
		t, err = a.introspect.verify(ctx, a, raw)
	}
	if err != nil {
		return nil, err
	}
	if a.tokens != nil {
		ttl := min(a.cacheTTL, t.Expiry.Sub(a.now()))
		if t.Introspected {
			ttl = min(ttl, a.introspect.ttl)
		}
		if ttl > 0 && a.tokens.ItemCount() < maxCachedTokens {
			a.tokens.Set(raw, t, ttl)
		}
	}
	return t, nil
}
