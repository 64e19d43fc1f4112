package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpauth/mcpauth/internal/kit"
	"github.com/mcpauth/mcpauth/metadata"
	"github.com/mcpauth/mcpauth/scopes"
)

// Authenticator is the HTTP layer of a protected resource: it holds one
// [TokenVerifier], checks scopes, binds sessions, writes challenges and
// serves the protected resource metadata. Build it once with [New]; it is
// safe for concurrent use. Call [Authenticator.Close] to stop its
// background work.
type Authenticator struct {
	verifier TokenVerifier
	owned    *Verifier // the verifier New built, closed by Close; nil for Config.Verifier
	resource string
	norm     *scopes.Normalizer
	baseline scopes.Requirement
	maxBody  int64
	maxDepth int
	// anonymous lets discovery through without a token; anonymousSource
	// names an anonymous caller's source.
	anonymous       bool
	anonymousSource func(*http.Request) string
	now             func() time.Time
	logger          *slog.Logger

	sessions *sessionTable  // Mcp-Session-Id -> the subject that created it
	inflight *inflightTable // JSON-RPC ids of sessionless requests in flight -> their subject

	trace    *Trace
	observer Observer

	challengeScopes   ChallengeScopes
	challengeBaseline string // scope of 401 challenges
	errorWriter       func(http.ResponseWriter, *http.Request, *Error)

	dpop   *DPoPVerifier // nil: DPoP off (bound tokens are still refused as bearer tokens)
	origin string        // scheme and host of the resource, which a proof's htu names

	prmMu               sync.RWMutex
	prm                 metadata.ProtectedResource
	prmHandler          http.Handler
	explicitSupported   bool
	resourceMetadataURL string   // absolute, path-inserted
	metadataPaths       []string // request paths that serve the metadata

	cancel context.CancelFunc
}

// New checks cfg and builds an Authenticator. Unless [Config.Verifier] is
// set, it builds the token verifier from [Config.Tokens] with
// [NewVerifier], so it fails fast when an issuer's metadata cannot be
// discovered. ctx bounds discovery only. Call [Authenticator.Close] when
// done with it.
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	a, err := newAuthenticator(cfg)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if a.verifier == nil {
		v, err := NewVerifier(ctx, verifierConfig(cfg, a.resource))
		if err != nil {
			return nil, err
		}
		a.verifier, a.owned = v, v
	}
	bg, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go sweepEvery(bg, min(time.Minute, max(time.Second, a.sessions.ttl/4)), a.sessions.sweep)
	return a, nil
}

// verifierConfig is cfg.Tokens with what it inherits from cfg.
func verifierConfig(cfg Config, resource string) VerifierConfig {
	vc := cfg.Tokens
	if len(vc.Audiences) == 0 {
		vc.Audiences = []string{resource}
	}
	if vc.Scopes == nil {
		vc.Scopes = cfg.Scopes
	}
	if vc.Observer == nil {
		vc.Observer = cfg.Observer
	}
	if vc.Now == nil {
		vc.Now = cfg.Now
	}
	vc.InsecureAllowHTTP = vc.InsecureAllowHTTP || cfg.InsecureAllowHTTP
	return vc
}

// newAuthenticator validates cfg and fills everything that needs no network.
func newAuthenticator(cfg Config) (*Authenticator, error) {
	resource, err := canonicalResource(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Verifier != nil && !reflect.ValueOf(cfg.Tokens).IsZero() {
		return nil, errors.New("Config.Verifier and Config.Tokens are both set: Tokens would be ignored; set one")
	}
	a := &Authenticator{
		verifier:  cfg.Verifier,
		resource:  resource,
		norm:      cfg.Scopes,
		maxBody:   cfg.MaxBodyBytes,
		maxDepth:  cfg.MaxJSONDepth,
		anonymous: cfg.AnonymousDiscovery, anonymousSource: cfg.AnonymousSource,
		now:         cfg.Now,
		logger:      cfg.Logger,
		trace:       cfg.Trace,
		observer:    cfg.Observer,
		errorWriter: cfg.ErrorWriter,
	}
	if a.maxBody <= 0 {
		a.maxBody = defaultMaxBodyBytes
	}
	if a.maxDepth <= 0 {
		a.maxDepth = defaultMaxJSONDepth
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
	for _, s := range cfg.BaselineScopes {
		if !scopes.ValidToken(s) {
			return nil, fmt.Errorf("Config.BaselineScopes: %q is not a valid scope token", s)
		}
	}
	a.baseline = scopes.All(cfg.BaselineScopes...)
	a.challengeScopes = cfg.ChallengeScopes
	if cfg.DPoP != nil {
		if a.dpop, err = NewDPoPVerifier(*cfg.DPoP, a.now); err != nil {
			return nil, err
		}
		u, _ := url.Parse(resource)
		a.origin = u.Scheme + "://" + u.Host
	}
	if err := a.buildMetadata(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// canonicalResource checks Config.Resource.
func canonicalResource(cfg Config) (string, error) {
	resource, err := metadata.CanonicalResource(cfg.Resource, cfg.InsecureAllowHTTP)
	if err != nil {
		if cfg.Resource == "" {
			return "", errors.New("Config.Resource is required: the public URL of the MCP endpoint")
		}
		return "", fmt.Errorf("Config.Resource: %w", err)
	}
	return resource, nil
}

// advertisedServers is the authorization_servers of the metadata:
// Config.AuthorizationServers, else the issuers' URLs (and the
// introspection issuer's).
func advertisedServers(cfg Config) []string {
	if len(cfg.AuthorizationServers) > 0 {
		return slices.Clone(cfg.AuthorizationServers)
	}
	var out []string
	for _, ic := range cfg.Tokens.Issuers {
		out = append(out, ic.URL)
	}
	if in := cfg.Tokens.Introspection; in != nil && in.Issuer != "" && !slices.Contains(out, in.Issuer) {
		out = append(out, in.Issuer)
	}
	return out
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

func init() {
	kit.SessionIdleTimeout = func(a any) time.Duration { return a.(*Authenticator).sessions.ttl }
	kit.AdvertiseScopes = func(a any, s ...string) { a.(*Authenticator).advertiseScopes(s...) }
	kit.Checked = checkedBody
}

// Close stops background work: session sweeps, and the key set refreshes of
// a verifier New built. The Authenticator keeps validating with the keys it
// has.
func (a *Authenticator) Close() error {
	if a.cancel != nil {
		a.cancel()
	}
	if a.owned != nil {
		return a.owned.Close()
	}
	return nil
}
