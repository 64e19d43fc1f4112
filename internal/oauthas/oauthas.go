// Package oauthas is the authorization-code core shared by the module's
// authorization servers (auth/authtest, and the authorization proxy to
// come): validating an authorization request (client, redirect URI, PKCE
// S256, bounded parameters), issuing single-use codes, and the token
// endpoint (authorization_code with PKCE, refresh_token with rotation and
// reuse detection, client_credentials), with everything kept in a
// store.Store so that replicas share it.
package oauthas

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/internal/randid"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// Bounds on what a request may carry, checked before anything is stored.
const (
	MaxFormBytes  = 64 << 10
	maxScopeBytes = 4 << 10
	maxStateBytes = 2 << 10
	maxResources  = 8
	// grace keeps a used or expired record a little longer, so that its
	// use is refused as such rather than as unknown.
	grace = time.Minute
)

// Server is the core of one authorization server. Fill every field but
// the optional ones before use.
type Server struct {
	Issuer   string
	Store    store.Store
	Resolver *registration.Resolver
	// GrantScopes decides what a request for scope grants (or refuses it).
	GrantScopes func(requested string) (scopes.Set, error)
	// Audience decides the audience of a request's resource parameters.
	Audience func(resources []string) ([]string, error)
	// Mint signs an access token for g and says how long it lives.
	Mint func(g Grant) (token string, ttl time.Duration)
	// IDToken, when set, signs an OpenID Connect ID token for a grant whose
	// scope includes openid (its nonce is Extra["nonce"]).
	IDToken func(g Grant) string
	// RefreshWithoutOfflineAccess issues refresh tokens to every
	// authorization code grant (see auth/authtest.Options).
	RefreshWithoutOfflineAccess bool
	// CodeTTL and RefreshTTL: zero means 1 minute and 24 hours.
	CodeTTL, RefreshTTL time.Duration
	// Realm is the realm of the Basic challenge of a failed client authentication.
	Realm string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Grant is who and what a code or refresh token stands for.
type Grant struct {
	ClientID string            `json:"client_id"`
	Subject  string            `json:"subject"`
	Scope    string            `json:"scope"`
	Audience []string          `json:"audience"`
	Extra    map[string]string `json:"extra,omitempty"` // the server's own, e.g. the proxy's upstream grant
}

// Request is a validated authorization request.
type Request struct {
	Client      *registration.Client
	RedirectURI string
	State       string
	Challenge   string
	Scopes      scopes.Set
	Audience    []string
	// Params are the request's OAuth parameters, to carry through a form.
	Params url.Values
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) codeTTL() time.Duration    { return or(s.CodeTTL, time.Minute) }
func (s *Server) refreshTTL() time.Duration { return or(s.RefreshTTL, 24*time.Hour) }

func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// ParseAuthorize reads and validates the authorization request of r (query
// or form). Errors about the client or its redirect URI are shown, never
// redirected (RFC 6749 §4.1.2.1); the others are redirected to the client.
// ok is false when the response has been written.
func (s *Server) ParseAuthorize(w http.ResponseWriter, r *http.Request) (req *Request, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid_request: malformed parameters", http.StatusBadRequest)
		return nil, false
	}
	q := r.Form
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	client, err := s.Resolver.Client(r.Context(), q.Get("client_id"))
	if errors.Is(err, store.ErrUnavailable) {
		http.Error(w, "temporarily_unavailable: the server's store is unavailable; retry later", http.StatusServiceUnavailable)
		return nil, false
	}
	if err != nil {
		http.Error(w, "invalid_client: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	req = &Request{Client: client, RedirectURI: q.Get("redirect_uri"), State: q.Get("state"), Challenge: q.Get("code_challenge"), Params: url.Values{}}
	if req.RedirectURI == "" && len(client.Metadata.RedirectURIs) == 1 {
		req.RedirectURI = client.Metadata.RedirectURIs[0]
	}
	if err := client.MatchRedirect(req.RedirectURI); err != nil {
		http.Error(w, "invalid_request: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "code_challenge", "code_challenge_method", "scope", "state", "resource"} {
		if vs, ok := q[k]; ok {
			req.Params[k] = vs
		}
	}
	fail := func(code, desc string) (*Request, bool) {
		s.Deny(w, r, req, code, desc)
		return nil, false
	}
	switch {
	case q.Get("response_type") != "code":
		return fail("unsupported_response_type", "only response_type=code is supported")
	case !client.AllowsGrant("authorization_code"):
		return fail("unauthorized_client", "the client did not register the authorization_code grant")
	case req.Challenge == "":
		return fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
	case q.Get("code_challenge_method") != "S256":
		return fail("invalid_request", "code_challenge_method must be S256; plain is not accepted")
	case !ValidChallenge(req.Challenge):
		return fail("invalid_request", "an S256 code_challenge is exactly 43 base64url characters")
	case len(q.Get("scope")) > maxScopeBytes || len(q["resource"]) > maxResources || len(req.State) > maxStateBytes:
		return fail("invalid_request", fmt.Sprintf("scope is limited to %d bytes, resource to %d values, state to %d bytes", maxScopeBytes, maxResources, maxStateBytes))
	}
	if req.Scopes, err = s.GrantScopes(q.Get("scope")); err != nil {
		return fail("invalid_scope", err.Error())
	}
	if req.Audience, err = s.Audience(q["resource"]); err != nil {
		return fail("invalid_target", err.Error())
	}
	return req, true
}

// Deny redirects an error to the client, with its state and the issuer
// (RFC 9207).
func (s *Server) Deny(w http.ResponseWriter, r *http.Request, req *Request, code, desc string) {
	v := url.Values{"error": {code}, "error_description": {desc}, "iss": {s.Issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	http.Redirect(w, r, WithQuery(req.RedirectURI, v), http.StatusFound)
}

// codeRecord is a pending code, as stored.
type codeRecord struct {
	Grant
	RedirectURI string    `json:"redirect_uri"`
	Challenge   string    `json:"challenge"`
	Expires     time.Time `json:"expires"`
}

// Approve issues a single-use code for req to subject and redirects to the
// client with it, its state and the issuer.
func (s *Server) Approve(w http.ResponseWriter, r *http.Request, req *Request, subject string, extra map[string]string) {
	code := randid.New(24)
	b, _ := json.Marshal(codeRecord{
		Grant:       Grant{ClientID: req.Client.ID, Subject: subject, Scope: req.Scopes.String(), Audience: req.Audience, Extra: extra},
		RedirectURI: req.RedirectURI, Challenge: req.Challenge, Expires: s.now().Add(s.codeTTL()),
	})
	if err := s.Store.Add(r.Context(), "code:"+code, b, s.codeTTL()+grace); err != nil {
		s.Deny(w, r, req, "temporarily_unavailable", "the authorization code cannot be stored; retry in a minute")
		return
	}
	v := url.Values{"code": {code}, "iss": {s.Issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	http.Redirect(w, r, WithQuery(req.RedirectURI, v), http.StatusFound)
}

// ValidChallenge reports whether c is an S256 code challenge: the unpadded
// base64url of 32 bytes.
func ValidChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for i := 0; i < len(c); i++ {
		switch ch := c[i]; {
		case 'A' <= ch && ch <= 'Z', 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '-', ch == '_':
		default:
			return false
		}
	}
	return true
}

// S256 is the PKCE S256 transform of a code verifier.
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// WithQuery appends v to base's query.
func WithQuery(base string, v url.Values) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + v.Encode()
}

// TokenError is an RFC 6749 §5.2 error.
type TokenError struct {
	Status     int
	Code, Desc string
}

func (e *TokenError) Error() string { return e.Code + ": " + e.Desc }

func badGrant(desc string) error { return &TokenError{http.StatusBadRequest, "invalid_grant", desc} }

// unavailable is the answer when the store cannot be reached: never a
// grant, and nothing about the store.
func unavailable() error {
	return &TokenError{http.StatusServiceUnavailable, "temporarily_unavailable", "the server's store is unavailable; retry later"}
}

// ServeToken is the token endpoint.
func (s *Server) ServeToken(w http.ResponseWriter, r *http.Request) {
	resp, err := s.token(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		var te *TokenError
		if !errors.As(err, &te) {
			te = &TokenError{http.StatusBadRequest, "invalid_request", err.Error()}
		}
		if te.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+s.Realm+`"`)
		}
		w.WriteHeader(te.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": te.Code, "error_description": te.Desc})
		return
	}
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) token(r *http.Request) (map[string]any, error) {
	if r.Method != http.MethodPost {
		return nil, &TokenError{http.StatusMethodNotAllowed, "invalid_request", "use POST"}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, &TokenError{http.StatusBadRequest, "invalid_request", "malformed form body"}
	}
	client, err := s.authenticateClient(r)
	if err != nil {
		return nil, err
	}
	f := r.PostForm
	switch gt := f.Get("grant_type"); gt {
	case "authorization_code":
		return s.exchangeCode(r.Context(), client, f)
	case "refresh_token":
		return s.exchangeRefresh(r.Context(), client, f)
	case "client_credentials":
		if client.Public() {
			return nil, &TokenError{http.StatusBadRequest, "unauthorized_client", "public clients cannot use client_credentials"}
		}
		if !client.AllowsGrant(gt) {
			return nil, &TokenError{http.StatusBadRequest, "unauthorized_client", "the client did not register client_credentials"}
		}
		granted, err := s.GrantScopes(f.Get("scope"))
		if err != nil {
			return nil, &TokenError{http.StatusBadRequest, "invalid_scope", err.Error()}
		}
		aud, err := s.Audience(f["resource"])
		if err != nil {
			return nil, &TokenError{http.StatusBadRequest, "invalid_target", err.Error()}
		}
		return s.issue(r.Context(), Grant{ClientID: client.ID, Subject: client.ID, Scope: granted.String(), Audience: aud}, false, "")
	default:
		return nil, &TokenError{http.StatusBadRequest, "unsupported_grant_type", "grant_type " + gt + " is not supported"}
	}
}

// authenticateClient applies client_secret_basic, client_secret_post or
// none, as the client registered.
func (s *Server) authenticateClient(r *http.Request) (*registration.Client, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	unauthorized := &TokenError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}
	if id == "" {
		return nil, unauthorized
	}
	client, err := s.Resolver.Client(r.Context(), id)
	if errors.Is(err, store.ErrUnavailable) {
		return nil, unavailable()
	}
	if err != nil {
		return nil, unauthorized
	}
	if client.Public() {
		if secret != "" {
			return nil, unauthorized
		}
		return client, nil
	}
	if !client.AuthenticateSecret(secret) {
		return nil, unauthorized
	}
	return client, nil
}

func (s *Server) exchangeCode(ctx context.Context, client *registration.Client, f url.Values) (map[string]any, error) {
	code := f.Get("code")
	var c codeRecord
	if err := s.take(ctx, "code:"+code, &c); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if _, used := s.Store.Get(ctx, "code-used:"+code); used == nil {
			return nil, badGrant("the authorization code was already used")
		}
		return nil, badGrant("unknown authorization code")
	}
	// Taken: no replica can redeem it again. Remember the use, so a replay
	// is named as such.
	_ = s.Store.Put(ctx, "code-used:"+code, []byte{1}, s.codeTTL()+grace)
	switch {
	case s.now().After(c.Expires):
		return nil, badGrant("the authorization code expired")
	case c.ClientID != client.ID:
		return nil, badGrant("the authorization code was issued to another client")
	case f.Get("redirect_uri") != c.RedirectURI:
		return nil, badGrant("redirect_uri differs from the one in the authorization request")
	case f.Get("code_verifier") == "":
		return nil, badGrant("code_verifier is required (PKCE)")
	case subtle.ConstantTimeCompare([]byte(S256(f.Get("code_verifier"))), []byte(c.Challenge)) != 1:
		return nil, badGrant("code_verifier does not match the code_challenge")
	}
	if res := f["resource"]; len(res) > 0 && strings.Join(res, " ") != strings.Join(c.Audience, " ") {
		return nil, &TokenError{http.StatusBadRequest, "invalid_target", "resource differs from the one authorized"}
	}
	granted, _ := scopes.Parse(c.Scope)
	offline := granted.Contains(scopes.OfflineAccess) || s.RefreshWithoutOfflineAccess
	return s.issue(ctx, c.Grant, offline && client.AllowsGrant("refresh_token"), "")
}

// refreshRecord is a refresh token, as stored.
type refreshRecord struct {
	Grant
	Family  string    `json:"family"`
	Expires time.Time `json:"expires"`
}

func (s *Server) exchangeRefresh(ctx context.Context, client *registration.Client, f url.Values) (map[string]any, error) {
	if !client.AllowsGrant("refresh_token") {
		return nil, &TokenError{http.StatusBadRequest, "unauthorized_client", "the client did not register refresh_token"}
	}
	rt := f.Get("refresh_token")
	var rec refreshRecord
	if err := s.take(ctx, "refresh:"+rt, &rec); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		family, err := s.Store.Get(ctx, "refresh-used:"+rt)
		if err != nil {
			return nil, badGrant("unknown refresh token")
		}
		// Reuse of a rotated token revokes its whole family, for as long as a
		// token of the family can live.
		if err := s.Store.Put(ctx, "revoked:"+string(family), []byte{1}, s.refreshTTL()+grace); err != nil {
			return nil, unavailable()
		}
		return nil, badGrant("the refresh token was already used; its family is revoked")
	}
	_ = s.Store.Put(ctx, "refresh-used:"+rt, []byte(rec.Family), s.refreshTTL()+grace)
	if _, err := s.Store.Get(ctx, "revoked:"+rec.Family); err == nil {
		return nil, badGrant("the refresh token was revoked")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, unavailable()
	}
	switch {
	case s.now().After(rec.Expires):
		return nil, badGrant("the refresh token expired")
	case rec.ClientID != client.ID:
		return nil, badGrant("the refresh token was issued to another client")
	}
	g := rec.Grant
	if sc := f.Get("scope"); sc != "" {
		held, _ := scopes.Parse(g.Scope)
		narrowed, err := scopes.Parse(sc)
		if err != nil || !held.ContainsAll(narrowed) {
			return nil, &TokenError{http.StatusBadRequest, "invalid_scope", "a refresh may only narrow the granted scopes"}
		}
		g.Scope = narrowed.String()
	}
	return s.issue(ctx, g, true, rec.Family)
}

// take takes the record at key from the store and decodes it.
func (s *Server) take(ctx context.Context, key string, into any) error {
	b, err := s.Store.Take(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return err
	case err != nil:
		return unavailable()
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("a stored record cannot be read: %w", err)
	}
	return nil
}

// issue mints an access token (and a rotated refresh token when asked).
func (s *Server) issue(ctx context.Context, g Grant, withRefresh bool, family string) (map[string]any, error) {
	tok, ttl := s.Mint(g)
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl.Seconds()), "scope": g.Scope}
	if s.IDToken != nil && family == "" && slices.Contains(strings.Fields(g.Scope), "openid") {
		resp["id_token"] = s.IDToken(g)
	}
	if withRefresh {
		if family == "" {
			family = randid.New(8)
		}
		rt := randid.New(32)
		b, _ := json.Marshal(refreshRecord{Grant: g, Family: family, Expires: s.now().Add(s.refreshTTL())})
		switch err := s.Store.Put(ctx, "refresh:"+rt, b, s.refreshTTL()+grace); {
		case err == nil:
			resp["refresh_token"] = rt
		case errors.Is(err, store.ErrUnavailable):
			return nil, unavailable()
		} // when full, the client gets no refresh token and authorizes again
	}
	return resp, nil
}
