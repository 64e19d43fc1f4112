package authtest

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/metadata"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// Options configures a [Server]. The zero value is a server with DCR on,
// CIMD off, a consent page, subject "dev-user", any scope granted and the
// scope claim as an RFC 9068 string.
type Options struct {
	// Issuer is the issuer identifier, the server's public base URL. [Start]
	// sets it to the listener's URL; [New] requires it.
	Issuer string
	// AutoApprove skips the consent page.
	AutoApprove bool
	// Subject is the sub of tokens issued through /authorize; "" means "dev-user".
	Subject string
	// Clients are pre-registered (static) clients.
	Clients []*registration.Client
	// DisableDCR turns the registration endpoint off.
	DisableDCR bool
	// DCR is the Dynamic Client Registration policy.
	DCR registration.Policy
	// CIMD enables Client ID Metadata Documents, fetched under CIMDOptions.
	CIMD        bool
	CIMDOptions registration.CIMDOptions
	// ScopesSupported is advertised; when set, requests for other scopes are
	// refused with invalid_scope, or silently dropped with DropUnknownScopes
	// (as some real servers do).
	ScopesSupported   []string
	DropUnknownScopes bool
	// RefreshWithoutOfflineAccess issues a refresh token to every
	// authorization code grant of a client that registered the refresh_token
	// grant, as some servers do. By default one is issued only when the
	// authorization request asked for offline_access, as Auth0, Okta and Entra
	// do, and offline_access is advertised beside ScopesSupported (when that is
	// set). It is accepted either way. Turn this on only to test how a client copes:
	// a client that answers a 403 insufficient_scope by refreshing (the
	// TypeScript SDK v1) gets its old scopes back and cannot step up.
	RefreshWithoutOfflineAccess bool
	// ScopeClaim shapes granted scopes in tokens: "scope" (a space-delimited
	// string, the default) or "scp" (an array, like Okta).
	ScopeClaim string
	// AccessTokenTTL is the access token lifetime; zero means one hour.
	AccessTokenTTL time.Duration
	// DefaultAudience is the aud of tokens requested without an RFC 8707
	// resource parameter; without it such requests are refused.
	DefaultAudience string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Store keeps what the flows and registration create (codes, refresh
	// tokens, revocations, registered clients, DCR counters); share one
	// (store/redisstore) between replicas. Nil means an in-memory store.
	// The signing keys are not in it: replicas that must verify each
	// other's tokens sign with the same key ([KeyOptions].Private).
	Store store.Store
	// KeyAlgorithm is the algorithm of the keys [Server.RotateKey] makes,
	// the ones the flows sign with (see [KeyOptions]). "" means RS256.
	KeyAlgorithm string
}

// Server is the authorization server. It is an http.Handler.
type Server struct {
	// URL is the issuer identifier.
	URL string

	opts     Options
	mux      *http.ServeMux
	resolver *registration.Resolver
	httpSrv  *httptest.Server
	consent  *template.Template

	mu      sync.Mutex
	signing *signer            // the current key, of RotateKey
	signers map[string]*signer // every key the server can sign with, by kid
	public  []jwk.Key          // published keys, newest last
	store   store.Store        // codes, refresh tokens, revocations, registrations, DCR counters
	core    *oauthas.Server    // the authorization code, refresh and token endpoint core

	jwksMode    atomic.Int32
	jwksFetches atomic.Int64
	stall       chan struct{}
}

// New returns a Server for opts.Issuer, to be served on a listener of the
// caller's (the quickstart does this).
func New(opts Options) (*Server, error) {
	if _, err := url.Parse(opts.Issuer); err != nil || opts.Issuer == "" {
		return nil, fmt.Errorf("authtest: Options.Issuer %q must be the server's absolute base URL", opts.Issuer)
	}
	opts.Issuer = strings.TrimSuffix(opts.Issuer, "/")
	if opts.Subject == "" {
		opts.Subject = "dev-user"
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ScopeClaim == "" {
		opts.ScopeClaim = "scope"
	}
	s := &Server{URL: opts.Issuer, opts: opts, mux: http.NewServeMux(), signers: map[string]*signer{}, stall: make(chan struct{}), store: opts.Store}
	if s.store == nil {
		s.store = store.NewMemory(maxStored, maxStoredBytes)
	}
	s.consent = template.Must(template.New("consent").Parse(consentPage))
	s.resolver = &registration.Resolver{Static: map[string]*registration.Client{}}
	for _, c := range opts.Clients {
		s.resolver.Static[c.ID] = c
	}
	if !opts.DisableDCR {
		clients := registration.NewSharedStore(s.store, 0)
		s.resolver.Store = clients
		policy := opts.DCR
		if opts.Store != nil && policy.RateStore == nil {
			policy.RateStore = opts.Store // replicas count registrations together
		}
		s.mux.Handle("/register", &registration.DCRHandler{Policy: policy, Store: clients})
	}
	if opts.CIMD {
		s.resolver.CIMD = registration.NewCIMDResolver(opts.CIMDOptions)
	}
	if _, err := s.RotateKey(); err != nil {
		return nil, err
	}
	meta := metadata.AuthorizationServerHandler(s.Metadata())
	s.mux.Handle("/.well-known/oauth-authorization-server", meta)
	s.mux.Handle("/.well-known/openid-configuration", meta)
	s.mux.HandleFunc("/jwks", s.serveJWKS)
	s.core = &oauthas.Server{Issuer: s.URL, Store: s.store, Resolver: s.resolver, GrantScopes: s.grantScopes, Audience: s.audience,
		Mint: func(g oauthas.Grant) (string, time.Duration) {
			return s.Mint(TokenRequest{Subject: g.Subject, ClientID: g.ClientID, Scopes: strings.Fields(g.Scope), Audience: g.Audience}), s.opts.AccessTokenTTL
		},
		IDToken:                     s.idToken,
		RefreshWithoutOfflineAccess: opts.RefreshWithoutOfflineAccess, CodeTTL: codeTTL, RefreshTTL: refreshTTL, Realm: "authtest", Now: opts.Now}
	s.core.Grants = map[string]oauthas.GrantHandler{GrantTokenExchange: s.exchangeForIDJAG}
	s.mux.HandleFunc("/authorize", s.authorize)
	s.mux.HandleFunc("/token", s.core.ServeToken)
	s.mux.HandleFunc("/userinfo", s.userinfo)
	return s, nil
}

// Start runs a Server on a loopback listener, like httptest.NewServer. It
// panics if the server cannot be built. Close it when done.
func Start(opts Options) *Server {
	var s *Server
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.ServeHTTP(w, r) }))
	srv.Start()
	opts.Issuer = srv.URL
	s, err := New(opts)
	if err != nil {
		srv.Close()
		panic(err)
	}
	s.httpSrv = srv
	return s
}

// Close stops a Server made by [Start] and releases stalled JWKS requests.
func (s *Server) Close() {
	s.SetJWKSFailure(JWKSOK)
	if s.httpSrv != nil {
		s.httpSrv.Close()
	}
}

// ServeHTTP serves the endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Metadata returns the RFC 8414 document the server publishes.
func (s *Server) Metadata() metadata.AuthorizationServer {
	m := metadata.AuthorizationServer{
		Issuer:                                     s.URL,
		AuthorizationEndpoint:                      s.URL + "/authorize",
		TokenEndpoint:                              s.URL + "/token",
		JWKSURI:                                    s.URL + "/jwks",
		ScopesSupported:                            s.scopesSupported(),
		ResponseTypesSupported:                     []string{"code"},
		GrantTypesSupported:                        []string{"authorization_code", "refresh_token", "client_credentials", GrantTokenExchange},
		TokenEndpointAuthMethodsSupported:          []string{"none", "client_secret_basic", "client_secret_post"},
		CodeChallengeMethodsSupported:              []string{"S256"},
		ClientIDMetadataDocumentSupported:          s.opts.CIMD,
		AuthorizationResponseISSParameterSupported: true,
		SubjectTypesSupported:                      []string{"public"},
		IDTokenSigningAlgValuesSupported:           []string{cmp.Or(s.opts.KeyAlgorithm, "RS256")},
		UserinfoEndpoint:                           s.URL + "/userinfo",
	}
	if !s.opts.DisableDCR {
		m.RegistrationEndpoint = s.URL + "/register"
	}
	return m
}

// scopesSupported is what the metadata advertises: ScopesSupported, and
// offline_access when it asks for a refresh token.
func (s *Server) scopesSupported() []string {
	if len(s.opts.ScopesSupported) == 0 || s.opts.RefreshWithoutOfflineAccess || slices.Contains(s.opts.ScopesSupported, scopes.OfflineAccess) {
		return s.opts.ScopesSupported
	}
	return append(slices.Clone(s.opts.ScopesSupported), scopes.OfflineAccess)
}

// grantScopes applies ScopesSupported and DropUnknownScopes to a request.
func (s *Server) grantScopes(requested string) (scopes.Set, error) {
	set, err := scopes.Parse(requested)
	if err != nil {
		return scopes.Set{}, err
	}
	if len(s.opts.ScopesSupported) == 0 {
		return set, nil
	}
	supported := scopes.New(append(slices.Clone(s.opts.ScopesSupported), scopes.OfflineAccess)...) // offline_access is always understood
	unknown := set.Difference(supported)
	if unknown.IsEmpty() {
		return set, nil
	}
	if s.opts.DropUnknownScopes {
		return set.Difference(unknown), nil
	}
	return scopes.Set{}, fmt.Errorf("scopes %q are not supported", unknown.String())
}

func validResource(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.IsAbs() && u.Fragment == "" && !strings.Contains(v, "#")
}

func (s *Server) audience(resources []string) ([]string, error) {
	if len(resources) == 0 {
		if s.opts.DefaultAudience == "" {
			return nil, fmt.Errorf("the resource parameter (RFC 8707) is required")
		}
		return []string{s.opts.DefaultAudience}, nil
	}
	for _, r := range resources {
		if !validResource(r) {
			return nil, fmt.Errorf("resource %q is not an absolute URI without a fragment", r)
		}
	}
	return slices.Clone(resources), nil
}
