// Package proxy is an OAuth 2.1 authorization server facade for MCP
// servers whose identity provider does not speak MCP's OAuth: Microsoft
// Entra ID, Google, GitHub, Okta or Auth0 without open registration accept
// only pre-registered clients, and MCP clients arrive unregistered. The
// proxy registers MCP clients itself (static, Dynamic Client Registration,
// Client ID Metadata Documents, through package registration), asks the
// user's consent for each client, sends the user to the upstream provider
// with one pre-registered client (authorization code + PKCE, state bound to
// the pending transaction and to the browser that consented), and issues
// its own tokens bound to the MCP
// resource: the upstream token never reaches the MCP client, and reaches
// tool handlers only through [Proxy.UpstreamToken]. Everything it keeps is
// in a store.Store (store/redisstore for replicas), upstream tokens sealed
// with a store.Keyring. The auth package trusts it like any issuer, so
// per-tool step-up works through it.
//
// Beyond users signing in upstream, the token endpoint serves machine
// clients (client credentials, with a secret or private_key_jwt), clients
// of an enterprise IdP presenting its ID-JAGs ([Config].Enterprise), and
// DPoP-bound tokens ([Config].DPoP); a tool handler calls other APIs as
// the user with [Proxy.DownstreamToken], a token the upstream issues for
// that API by token exchange.
//
// Call [New] first, with the upstream's issuer and the proxy's client there,
// and serve the Proxy (an http.Handler) at its issuer URL; point
// auth.Config.Tokens at the same issuer (examples/proxy is the whole
// program).
package proxy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/oauth2"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/capped"
	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/internal/randid"
	"github.com/mcpauth/mcpauth/metadata"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// Upstream is the identity provider the user signs in with.
type Upstream struct {
	// Issuer of an OpenID Connect provider: its metadata is discovered and
	// the user is the sub of the verified ID token.
	Issuer string
	// For a plain OAuth 2.0 provider (GitHub): its endpoints, and a user
	// info URL whose JSON member SubjectField (e.g. "id") names the user.
	AuthURL, TokenURL, UserInfoURL, SubjectField string
	// ClientID and ClientSecret are the proxy's one client at the provider;
	// its redirect URI is the proxy's Issuer + "/callback".
	ClientID, ClientSecret string
	// Scopes requested upstream; empty means openid for OpenID Connect.
	Scopes []string
	// HTTPClient talks to the provider; nil means a 10 second timeout.
	HTTPClient *http.Client
	// Exchange is how [Proxy.DownstreamToken] trades the user's upstream
	// token for a token for another API: ExchangeRFC8693 (the zero value)
	// or ExchangeEntraOBO.
	Exchange Exchange
}

// Exchange names a token exchange protocol of the upstream provider.
type Exchange int

const (
	// ExchangeRFC8693 is OAuth 2.0 Token Exchange (RFC 8693): the user's
	// upstream access token as subject_token, the API as audience (and as
	// resource when it is a URL), with the proxy's client credentials.
	ExchangeRFC8693 Exchange = iota
	// ExchangeEntraOBO is Microsoft Entra ID's on-behalf-of flow: the
	// JWT-bearer grant with requested_token_use=on_behalf_of, the API named
	// by its scopes (audience + "/.default" when none are given).
	ExchangeEntraOBO
)

// Identity is who signed in upstream.
type Identity struct {
	Subject string
	// Claims are the ID token's claims or the user info response.
	Claims map[string]any
	// Token is the upstream token.
	Token *oauth2.Token
}

// Config configures a [Proxy].
type Config struct {
	// Issuer is the proxy's issuer identifier: its public base URL (behind
	// a load balancer, the URL clients use). Required.
	Issuer string
	// Resource is the MCP server's resource identifier: the audience of
	// every token the proxy issues. Required.
	Resource string
	// Upstream is the identity provider. Required.
	Upstream Upstream
	// Clients are pre-registered MCP clients. A machine client (no user)
	// registers the client_credentials grant and authenticates with a
	// secret or private_key_jwt (its metadata's jwks or jwks_uri); its
	// metadata's Scope bounds what it may get (empty: every supported
	// scope).
	Clients []*registration.Client
	// Enterprise are the enterprise identity providers whose ID-JAGs the
	// token endpoint accepts through the JWT-bearer grant (see
	// [EnterpriseIdP]); the clients that present them register that grant
	// (GrantJWTBearer).
	Enterprise []EnterpriseIdP
	// DPoP, when set, lets clients bind their tokens to a key (RFC 9449):
	// a token request with a DPoP proof gets a token with cnf.jkt
	// (token_type DPoP), and a public client's refresh token bound to the
	// same key. Point auth.Config.DPoP at a config too, so the resource
	// checks the binding. Its Replay defaults to Store when that is set
	// (replicas), else to a bounded memory of its own.
	DPoP *auth.DPoPConfig
	// DCR enables Dynamic Client Registration at /register under this policy.
	DCR *registration.Policy
	// CIMD enables Client ID Metadata Documents, fetched under these options.
	CIMD *registration.CIMDOptions
	// ScopesSupported are the scopes MCP clients may ask for; others are
	// refused (invalid_scope). offline_access is always understood: it asks
	// for a refresh token.
	ScopesSupported []string
	// MapScopes decides what a signed-in user is granted of what the client
	// asked for, e.g. from upstream groups. Nil grants what was asked.
	MapScopes func(id Identity, requested scopes.Set) scopes.Set
	// Store keeps clients, pending transactions, codes, refresh tokens,
	// sealed upstream tokens and counters; share one between replicas. Nil
	// means in memory (one replica), in two parts: what callers who have not
	// signed in leave (pending requests, registrations, counters; at most
	// 96 MiB) apart from codes and tokens, so neither can fill the other.
	Store store.Store
	// Keyring seals upstream tokens at rest. Nil means a random key (one
	// replica, tokens lost on restart).
	Keyring *store.Keyring
	// SigningKeys sign the proxy's tokens: the first signs, all are
	// published, so a rotation puts the new key first and keeps the old
	// one until its tokens expire. Replicas share them. Nil means a new
	// P-256 key (one replica).
	SigningKeys []crypto.Signer
	// ConsentKey (32 bytes or more) signs consent cookies and CSRF tokens;
	// replicas share it. Nil means a random key (one replica).
	ConsentKey []byte
	// AutoApprove skips the consent page (development and tests only).
	AutoApprove bool
	// Limits bound what callers that have not signed in can make the proxy
	// keep; the zero value is the defaults (see [Limits]).
	Limits Limits
	// LazyDiscovery lets New return while the upstream's metadata cannot be
	// discovered yet (the provider starts after the proxy, under compose or
	// Kubernetes), instead of failing into a crash loop: discovery is
	// retried in the background (after 1 s, then twice as late each time,
	// at most a minute apart, each failure logged), and until it succeeds
	// /authorize answers 503 with Retry-After. The proxy's own metadata,
	// keys, registration and token endpoints serve meanwhile.
	LazyDiscovery bool
	// Logger receives one record per refused sign-in, naming the reason
	// and the upstream's error. Nil means slog.Default().
	Logger *slog.Logger
	// AccessTokenTTL is the lifetime of access tokens; zero means one hour.
	AccessTokenTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Proxy is the authorization server facade. It is an http.Handler.
type Proxy struct {
	cfg      Config
	mux      *http.ServeMux
	core     *oauthas.Server
	resolver *registration.Resolver
	store    store.Store // codes, refresh tokens, upstream tokens: what signed-in users and tokens need
	public   store.Store // what unauthenticated callers leave: pending requests, registrations, counters
	limits   Limits
	log      *slog.Logger
	keyring  *store.Keyring
	signers  []jwk.Key // private, first signs
	jwks     jwk.Set
	idJAGs   *auth.Verifier // the enterprise IdPs' ID-JAGs; nil without Config.Enterprise
	down     *downstreamCache
	up       atomic.Pointer[upstream] // nil until a lazy discovery finds the provider
	cancel   context.CancelFunc       // stops a lazy discovery
	client   *http.Client
	consent  *template.Template
}

const (
	txTTL      = 10 * time.Minute
	refreshTTL = 30 * 24 * time.Hour
	// Bounds of the in-memory store of what unauthenticated callers leave
	// (pending requests, registrations, counters), kept apart from the
	// store of codes and tokens; Limits keep them well under it.
	maxPublicEntries = 50_000
	maxPublicBytes   = 96 << 20
)

// New checks cfg and builds the Proxy; for an OpenID Connect upstream it
// discovers the provider's metadata (ctx bounds that).
func New(ctx context.Context, cfg Config) (*Proxy, error) {
	if cfg.Issuer == "" || cfg.Resource == "" {
		return nil, errors.New("proxy: Config.Issuer and Config.Resource are required")
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if u, err := url.Parse(cfg.Issuer); err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" ||
		!(u.Scheme == "https" || u.Scheme == "http" && metadata.IsLoopbackHost(u.Hostname())) {
		return nil, fmt.Errorf("proxy: Config.Issuer %q must be an https URL (http only on a loopback host), without query or fragment", cfg.Issuer)
	}
	resource, err := metadata.CanonicalResource(cfg.Resource, false)
	if err != nil {
		return nil, fmt.Errorf("proxy: Config.Resource: %w", err)
	}
	cfg.Resource = resource
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AccessTokenTTL <= 0 {
		cfg.AccessTokenTTL = time.Hour
	}
	p := &Proxy{cfg: cfg, mux: http.NewServeMux(), store: cfg.Store, public: cfg.Store, keyring: cfg.Keyring, client: cfg.Upstream.HTTPClient,
		limits: cfg.Limits.withDefaults(), log: cfg.Logger}
	if p.store == nil {
		p.store = store.NewMemory(0, 0)
		p.public = store.NewMemory(maxPublicEntries, maxPublicBytes)
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.client == nil {
		p.client = &http.Client{Timeout: 10 * time.Second}
	}
	if p.keyring == nil {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		p.keyring, _ = store.NewKeyring(k)
	}
	if len(p.cfg.ConsentKey) == 0 {
		p.cfg.ConsentKey = make([]byte, 32)
		_, _ = rand.Read(p.cfg.ConsentKey)
	} else if len(p.cfg.ConsentKey) < 32 {
		return nil, errors.New("proxy: Config.ConsentKey must be at least 32 bytes")
	}
	if err := p.loadKeys(); err != nil {
		return nil, err
	}
	if err := p.checkUpstream(); err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	if up, err := p.discoverUpstream(ctx); err == nil {
		p.up.Store(up)
	} else if cfg.LazyDiscovery {
		go p.discoverLater(bg)
	} else {
		cancel()
		return nil, err
	}
	p.resolver = &registration.Resolver{Static: map[string]*registration.Client{}}
	for _, c := range cfg.Clients {
		p.resolver.Static[c.ID] = c
	}
	if cfg.DCR != nil {
		clients := registration.NewSharedStore(p.public, 0)
		p.resolver.Store = clients
		policy := *cfg.DCR
		if policy.RateStore == nil {
			policy.RateStore = p.public
		}
		if policy.RateLimit <= 0 {
			policy.RateLimit, policy.RateWindow = p.limits.RegistrationsPerSource, time.Hour
		}
		if policy.GlobalRateLimit <= 0 {
			policy.GlobalRateLimit, policy.GlobalRateWindow = p.limits.Registrations, 24*time.Hour
		}
		if policy.RateKey == nil {
			policy.RateKey = p.limits.Source
		}
		p.mux.Handle("/register", &registration.DCRHandler{Policy: policy, Store: clients})
	}
	if cfg.CIMD != nil {
		p.resolver.CIMD = registration.NewCIMDResolver(*cfg.CIMD)
	}
	p.resolver.HTTPClient = p.client
	p.core = &oauthas.Server{Issuer: cfg.Issuer, Store: p.store, Resolver: p.resolver, GrantScopes: p.grantScopes, Audience: p.audience,
		Mint: p.mint, RefreshTTL: refreshTTL, Realm: "mcpauth proxy", Now: cfg.Now,
		Grants: map[string]oauthas.GrantHandler{}}
	if cfg.DPoP != nil {
		dc := *cfg.DPoP
		if dc.Replay == nil && cfg.Store != nil {
			dc.Replay = cfg.Store // replicas share proofs seen; alone, a bounded memory of its own (not the codes' store)
		}
		if p.core.DPoP, err = auth.NewDPoPVerifier(dc, cfg.Now); err != nil {
			cancel()
			return nil, fmt.Errorf("proxy: Config.DPoP: %w", err)
		}
	}
	if len(cfg.Enterprise) > 0 {
		if err := p.trustEnterprise(ctx); err != nil {
			cancel()
			return nil, err
		}
	}
	p.down = newDownstreamCache()
	p.consent = template.Must(template.New("consent").Parse(consentPage))
	meta := metadata.AuthorizationServerHandler(p.Metadata())
	p.mux.Handle("/.well-known/oauth-authorization-server", meta)
	p.mux.Handle("/.well-known/openid-configuration", meta)
	p.mux.HandleFunc("/jwks", p.serveJWKS)
	p.mux.HandleFunc("/authorize", p.authorize)
	p.mux.HandleFunc("/consent", p.decide)
	p.mux.HandleFunc("/callback", p.callback)
	p.mux.HandleFunc("/token", p.core.ServeToken)
	return p, nil
}

// Close stops the background refreshes of the upstream's keys, and a lazy
// discovery still under way.
func (p *Proxy) Close() error {
	p.cancel()
	if p.idJAGs != nil {
		_ = p.idJAGs.Close()
	}
	if up := p.up.Load(); up != nil && up.idTokens != nil {
		return up.idTokens.Close()
	}
	return nil
}

// ServeHTTP serves the proxy's endpoints.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// Metadata is the proxy's RFC 8414 document: its own issuer, never the
// upstream's.
func (p *Proxy) Metadata() metadata.AuthorizationServer {
	m := metadata.AuthorizationServer{
		Issuer:                            p.cfg.Issuer,
		AuthorizationEndpoint:             p.cfg.Issuer + "/authorize",
		TokenEndpoint:                     p.cfg.Issuer + "/token",
		JWKSURI:                           p.cfg.Issuer + "/jwks",
		ScopesSupported:                   append(slices.Clone(p.cfg.ScopesSupported), scopes.OfflineAccess),
		ResponseTypesSupported:            []string{"code"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token", "client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"none", "client_secret_basic", "client_secret_post", registration.PrivateKeyJWT},
		TokenEndpointAuthSigningAlgValuesSupported: oauthas.AssertionAlgorithms,
		CodeChallengeMethodsSupported:              []string{"S256"},
		ClientIDMetadataDocumentSupported:          p.cfg.CIMD != nil,
		AuthorizationResponseISSParameterSupported: true,
	}
	if p.cfg.DCR != nil {
		m.RegistrationEndpoint = p.cfg.Issuer + "/register"
	}
	if p.idJAGs != nil {
		m.GrantTypesSupported = append(m.GrantTypesSupported, GrantJWTBearer)
		m.AuthorizationGrantProfilesSupported = []string{ProfileIDJAG}
	}
	if p.core.DPoP != nil {
		m.DPoPSigningAlgValuesSupported = p.core.DPoP.Algorithms()
	}
	return m
}

// loadKeys prepares the signing keys and the published set.
func (p *Proxy) loadKeys() error {
	signers := p.cfg.SigningKeys
	if len(signers) == 0 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		signers = []crypto.Signer{k}
	}
	p.jwks = jwk.NewSet()
	for _, s := range signers {
		priv, err := jwk.FromRaw(s)
		if err != nil {
			return fmt.Errorf("proxy: a signing key: %w", err)
		}
		alg, err := algorithmOf(s)
		if err != nil {
			return err
		}
		pub, err := jwk.PublicKeyOf(priv)
		if err != nil {
			return err
		}
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			return err
		}
		kid := fmt.Sprintf("proxy-%x", tp[:8])
		for _, k := range []jwk.Key{priv, pub} {
			_ = k.Set(jwk.KeyIDKey, kid)
			_ = k.Set(jwk.AlgorithmKey, alg)
		}
		_ = pub.Set(jwk.KeyUsageKey, "sig")
		p.signers = append(p.signers, priv)
		_ = p.jwks.AddKey(pub)
	}
	return nil
}

func algorithmOf(s crypto.Signer) (jwa.SignatureAlgorithm, error) {
	switch k := s.Public().(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jwa.ES256, nil
		case elliptic.P384():
			return jwa.ES384, nil
		}
	case *rsa.PublicKey:
		return jwa.RS256, nil
	case ed25519.PublicKey:
		return jwa.EdDSA, nil
	}
	return "", fmt.Errorf("proxy: signing keys are P-256, P-384, RSA or Ed25519, got %T", s.Public())
}

func (p *Proxy) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_ = json.NewEncoder(w).Encode(p.jwks)
}

// mint signs the proxy's access token for g, bound to the resource.
func (p *Proxy) mint(g oauthas.Grant) (string, time.Duration) {
	now := p.cfg.Now()
	t := jwt.New()
	for k, v := range map[string]any{
		"iss": p.cfg.Issuer, "sub": g.Subject, "aud": g.Audience, "client_id": g.ClientID, "scope": g.Scope,
		"iat": now.Unix(), "exp": now.Add(p.cfg.AccessTokenTTL).Unix(), "jti": randid.New(12),
	} {
		_ = t.Set(k, v)
	}
	if grant := g.Extra["grant"]; grant != "" {
		_ = t.Set(grantClaim, grant)
	}
	if g.DPoPJKT != "" {
		_ = t.Set("cnf", map[string]string{"jkt": g.DPoPJKT})
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, "at+jwt")
	key := p.signers[0]
	alg, _ := key.Get(jwk.AlgorithmKey)
	b, err := jwt.Sign(t, jwt.WithKey(alg.(jwa.SignatureAlgorithm), key, jws.WithProtectedHeaders(h)))
	if err != nil {
		panic(fmt.Sprintf("proxy: signing: %v", err)) // keys were checked in New
	}
	return string(b), p.cfg.AccessTokenTTL
}

// grantClaim links a proxy token to the upstream token it was issued on.
const grantClaim = "mcpauth_grant"

func (p *Proxy) grantScopes(requested string) (scopes.Set, error) {
	set, err := scopes.Parse(requested)
	if err != nil {
		return scopes.Set{}, err
	}
	unknown := set.Difference(scopes.New(append(slices.Clone(p.cfg.ScopesSupported), scopes.OfflineAccess)...))
	if !unknown.IsEmpty() {
		return scopes.Set{}, fmt.Errorf("scopes %q are not supported", unknown.String())
	}
	return set, nil
}

// audience accepts only the MCP resource (RFC 8707): the proxy issues
// tokens for nothing else.
func (p *Proxy) audience(resources []string) ([]string, error) {
	for _, r := range resources {
		if r != p.cfg.Resource {
			return nil, fmt.Errorf("resource %q is not %q, the only resource this server issues tokens for", r, p.cfg.Resource)
		}
	}
	return []string{p.cfg.Resource}, nil
}

// UpstreamToken returns the upstream token the user's proxy token t was
// issued on, for calling the upstream API on the user's behalf. It is
// unsealed from the store; ErrNoUpstreamToken when there is none.
func (p *Proxy) UpstreamToken(ctx context.Context, t *auth.Token) (*oauth2.Token, error) {
	grant := p.grantOf(t)
	if grant == "" {
		return nil, ErrNoUpstreamToken
	}
	return p.upstreamToken(ctx, grant)
}

// grantOf returns the upstream sign-in a proxy token t was issued on, ""
// for none (no token, another issuer's, a machine or enterprise grant).
func (p *Proxy) grantOf(t *auth.Token) string {
	if t == nil || t.Issuer != p.cfg.Issuer {
		return ""
	}
	grant, _ := t.Claims()[grantClaim].(string)
	return grant
}

// upstreamToken unseals the upstream token of the sign-in grant.
func (p *Proxy) upstreamToken(ctx context.Context, grant string) (*oauth2.Token, error) {
	sealed, err := p.store.Get(ctx, "upstream:"+grant)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoUpstreamToken
	}
	if err != nil {
		return nil, err
	}
	b, err := p.keyring.Open(sealed, []byte("upstream:"+grant))
	if err != nil {
		return nil, err
	}
	var tok oauth2.Token
	if err := json.Unmarshal(b, &tok); err != nil {
		return nil, err
	}
	return &tok, nil
}

// ErrNoUpstreamToken is returned by [Proxy.UpstreamToken] for a token not
// issued by the proxy through an upstream login, or whose upstream token
// has expired from the store.
var ErrNoUpstreamToken = errors.New("proxy: no upstream token for this token")

// readJSON reads a capped JSON response of status 200.
func readJSON(resp *http.Response, into any) error {
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return readBody(resp, into)
}

// readBody reads a capped JSON response, whatever its status.
func readBody(resp *http.Response, into any) error {
	b, over, err := capped.ReadAll(resp.Body, 1<<20, resp.ContentLength)
	switch {
	case err != nil:
		return err
	case over:
		return errors.New("the response is larger than 1 MiB")
	}
	return json.Unmarshal(b, into)
}
