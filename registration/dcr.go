package registration

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcpauth/mcpauth/internal/cache"
	"github.com/mcpauth/mcpauth/internal/capped"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// Policy says what Dynamic Client Registration accepts. The zero value
// accepts public and confidential clients using the authorization_code and
// refresh_token grants, any scope, the strict [RedirectPolicy], at most 10
// redirect URIs, without an initial access token and without a rate limit.
type Policy struct {
	// GrantTypes allowed; empty means authorization_code and refresh_token.
	GrantTypes []string
	// AuthMethods allowed for token_endpoint_auth_method; empty means none,
	// client_secret_basic and client_secret_post.
	AuthMethods []string
	// Scopes a client may register; empty means any.
	Scopes []string
	// Redirects is the redirect URI policy.
	Redirects RedirectPolicy
	// MaxRedirectURIs bounds redirect_uris; zero means 10.
	MaxRedirectURIs int
	// InitialAccessToken, when set, must be presented as a Bearer token
	// (RFC 7591 §3).
	InitialAccessToken string
	// RateLimit is the number of registrations accepted per RateWindow from
	// one client (see RateKey); zero means unlimited. Only requests that pass
	// validation are counted, so junk cannot use up the budget of valid
	// registrations.
	RateLimit int
	// RateWindow is the window of RateLimit; zero means one minute.
	RateWindow time.Duration
	// GlobalRateLimit is the number of registrations accepted from all
	// clients together per GlobalRateWindow; zero means unlimited. With
	// RateLimit, it bounds what unauthenticated callers can make the server
	// keep however many addresses they come from.
	GlobalRateLimit int
	// GlobalRateWindow is the window of GlobalRateLimit; zero means a day
	// ([UnusedTTL]: registrations nobody uses are dropped after as long).
	GlobalRateWindow time.Duration
	// MaxMetadataBytes bounds the client metadata a registration keeps (its
	// JSON once validated); zero means 4 KiB. Real clients send a few
	// hundred bytes.
	MaxMetadataBytes int
	// RateStore, when set, keeps the rate-limit counters (a shared
	// store.Store, so that replicas count together); nil keeps them in memory.
	RateStore store.Store
	// RateKey says which client a request comes from, for RateLimit. Nil
	// means its remote IP address (an IPv6 address by its /64). Behind a
	// reverse proxy, return the address the proxy vouches for. At most 10,000
	// keys are tracked at once; past that, registrations wait for windows to
	// end.
	RateKey func(*http.Request) string
	// MaxBodyBytes bounds the request; zero means 64 KiB.
	MaxBodyBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// RegistrationError is an RFC 7591 §3.2.2 error response.
type RegistrationError struct {
	Status      int
	Code        string // "invalid_redirect_uri", "invalid_client_metadata", ...
	Description string
}

// Error returns the message: what was expected and what was seen.
func (e *RegistrationError) Error() string { return e.Code + ": " + e.Description }

// Register validates md under p and returns the new client and its secret
// ("" for a public client). It does not store the client.
func (p *Policy) Register(md Metadata) (*Client, string, error) {
	invalid := func(format string, args ...any) error {
		return &RegistrationError{Status: 400, Code: "invalid_client_metadata", Description: fmt.Sprintf(format, args...)}
	}
	if md.ClientID != "" || md.ClientSecret != "" {
		return nil, "", invalid("client_id and client_secret are assigned by the server, not sent")
	}
	if len(md.RedirectURIs) == 0 {
		return nil, "", &RegistrationError{Status: 400, Code: "invalid_redirect_uri", Description: "redirect_uris is required"}
	}
	maxURIs := p.MaxRedirectURIs
	if maxURIs <= 0 {
		maxURIs = 10
	}
	if len(md.RedirectURIs) > maxURIs {
		return nil, "", &RegistrationError{Status: 400, Code: "invalid_redirect_uri", Description: fmt.Sprintf("%d redirect_uris, at most %d are accepted", len(md.RedirectURIs), maxURIs)}
	}
	for _, u := range md.RedirectURIs {
		if err := p.Redirects.Validate(u); err != nil {
			return nil, "", &RegistrationError{Status: 400, Code: "invalid_redirect_uri", Description: err.Error()}
		}
	}
	if md.TokenEndpointAuthMethod == "" {
		md.TokenEndpointAuthMethod = "client_secret_basic" // RFC 7591 §2 default
	}
	methods := p.AuthMethods
	if len(methods) == 0 {
		methods = []string{"none", "client_secret_basic", "client_secret_post"}
	}
	if !slices.Contains(methods, md.TokenEndpointAuthMethod) {
		return nil, "", invalid("token_endpoint_auth_method %q is not one of %s", md.TokenEndpointAuthMethod, strings.Join(methods, ", "))
	}
	if len(md.GrantTypes) == 0 {
		md.GrantTypes = []string{"authorization_code"}
	}
	grants := p.GrantTypes
	if len(grants) == 0 {
		grants = []string{"authorization_code", "refresh_token"}
	}
	for _, g := range md.GrantTypes {
		if !slices.Contains(grants, g) {
			return nil, "", invalid("grant type %q is not one of %s", g, strings.Join(grants, ", "))
		}
	}
	if len(md.ResponseTypes) == 0 {
		md.ResponseTypes = []string{"code"}
	}
	for _, rt := range md.ResponseTypes {
		if rt != "code" {
			return nil, "", invalid("response type %q is not supported; only code", rt)
		}
	}
	if md.Scope != "" {
		requested, err := scopes.Parse(md.Scope)
		if err != nil {
			return nil, "", invalid("scope: %v", err)
		}
		if len(p.Scopes) > 0 {
			if extra := requested.Difference(scopes.New(p.Scopes...)); !extra.IsEmpty() {
				return nil, "", invalid("scopes %q may not be registered", extra.String())
			}
		}
	}
	maxBytes := p.MaxMetadataBytes
	if maxBytes <= 0 {
		maxBytes = 4 << 10
	}
	if b, _ := json.Marshal(md); len(b) > maxBytes {
		return nil, "", invalid("the client metadata is %d bytes; at most %d are kept", len(b), maxBytes)
	}
	c := &Client{ID: randomID(), Kind: KindDynamic, IssuedAt: p.now(), policy: p.Redirects}
	md.ClientIDIssuedAt = c.IssuedAt.Unix()
	var secret string
	if md.TokenEndpointAuthMethod == PrivateKeyJWT {
		if md.JWKS == nil {
			return nil, "", invalid("token_endpoint_auth_method private_key_jwt needs the public keys registered as jwks (a jwks_uri is not fetched for a dynamic registration)")
		}
	} else if md.TokenEndpointAuthMethod != "none" {
		secret = randomID() + randomID()
		c.secretHash = hashSecret(secret)
		zero := int64(0)
		md.ClientSecretExpiresAt = &zero
	}
	md.ClientID = c.ID
	c.Metadata = md
	return c, secret, nil
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DCRHandler is the RFC 7591 registration endpoint: POST a JSON client
// metadata document, get 201 with the registered metadata, client_id and,
// for confidential clients, client_secret.
type DCRHandler struct {
	Policy Policy
	Store  Store

	mu      sync.Mutex            // makes take and refund one step each
	buckets *cache.Cache[*bucket] // rate key -> its window, for as long as the window lasts
}

// ServeHTTP handles one registration request.
func (h *DCRHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSONError(w, &RegistrationError{Status: 405, Code: "invalid_request", Description: "use POST"})
		return
	}
	if tok := h.Policy.InitialAccessToken; tok != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
			writeJSONError(w, &RegistrationError{Status: 401, Code: "invalid_token", Description: "a valid initial access token is required to register"})
			return
		}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSONError(w, &RegistrationError{Status: 400, Code: "invalid_client_metadata", Description: fmt.Sprintf("Content-Type must be application/json, got %q", r.Header.Get("Content-Type"))})
		return
	}
	limit := h.Policy.MaxBodyBytes
	if limit <= 0 {
		limit = 64 << 10
	}
	body, over, err := capped.ReadAll(r.Body, limit, r.ContentLength)
	if err != nil || over {
		writeJSONError(w, &RegistrationError{Status: 413, Code: "invalid_client_metadata", Description: fmt.Sprintf("the registration request is larger than %d bytes", limit)})
		return
	}
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		writeJSONError(w, &RegistrationError{Status: 400, Code: "invalid_client_metadata", Description: "the body is not a JSON client metadata object"})
		return
	}
	c, secret, err := h.Policy.Register(md)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	key := h.rateKey(r)
	allowed, err := h.take(r.Context(), key)
	if err != nil {
		w.Header().Set("Retry-After", "10")
		writeJSONError(w, &RegistrationError{Status: 503, Code: "temporarily_unavailable", Description: "registration is unavailable; retry later"})
		return
	}
	if !allowed {
		w.Header().Set("Retry-After", strconv.Itoa(int(h.window().Seconds())))
		writeJSONError(w, &RegistrationError{Status: 429, Code: "invalid_request", Description: "too many registrations from this client or from all clients; retry later"})
		return
	}
	if err := h.Store.Put(r.Context(), c); err != nil {
		h.refund(key, h.Policy.RateLimit)
		h.refund(globalKey, h.Policy.GlobalRateLimit)
		if errors.Is(err, ErrStoreFull) || errors.Is(err, store.ErrUnavailable) {
			w.Header().Set("Retry-After", "60")
			writeJSONError(w, &RegistrationError{Status: 503, Code: "temporarily_unavailable", Description: "no more clients can be registered now; retry later"})
			return
		}
		writeJSONError(w, &RegistrationError{Status: 500, Code: "server_error", Description: "the registration cannot be stored"})
		return
	}
	resp := c.Metadata
	resp.ClientSecret = secret
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(resp)
}

func (p *Policy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func writeJSONError(w http.ResponseWriter, err error) {
	var re *RegistrationError
	if !errors.As(err, &re) {
		re = &RegistrationError{Status: 400, Code: "invalid_client_metadata", Description: err.Error()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(re.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": re.Code, "error_description": re.Description})
}
