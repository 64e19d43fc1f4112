package oauthas

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/internal/randid"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// tokenError is an RFC 6749 §5.2 error.
type tokenError struct {
	Status     int
	Code, Desc string
}

func (e *tokenError) Error() string { return e.Code + ": " + e.Desc }

func badGrant(desc string) error { return &tokenError{http.StatusBadRequest, "invalid_grant", desc} }

// unavailable is the answer when the store cannot be reached: never a
// grant, and nothing about the store.
func unavailable() error {
	return &tokenError{http.StatusServiceUnavailable, "temporarily_unavailable", "the server's store is unavailable; retry later"}
}

// ServeToken is the token endpoint.
func (s *Server) ServeToken(w http.ResponseWriter, r *http.Request) {
	resp, err := s.token(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		var te *tokenError
		if !errors.As(err, &te) {
			te = &tokenError{http.StatusBadRequest, "invalid_request", err.Error()}
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
		return nil, &tokenError{http.StatusMethodNotAllowed, "invalid_request", "use POST"}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, &tokenError{http.StatusBadRequest, "invalid_request", "malformed form body"}
	}
	client, err := s.authenticateClient(r)
	if err != nil {
		return nil, err
	}
	f := r.PostForm
	switch gt := f.Get("grant_type"); gt {
	case "authorization_code", "refresh_token":
		exchange := s.exchangeCode
		if gt == "refresh_token" {
			exchange = s.exchangeRefresh
		}
		resp, err := exchange(r.Context(), client, f)
		if err == nil {
			s.Resolver.Used(r.Context(), client)
		}
		return resp, err
	case "client_credentials":
		if client.Public() {
			return nil, &tokenError{http.StatusBadRequest, "unauthorized_client", "public clients cannot use client_credentials"}
		}
		if !client.AllowsGrant(gt) {
			return nil, &tokenError{http.StatusBadRequest, "unauthorized_client", "the client did not register client_credentials"}
		}
		granted, err := s.GrantScopes(f.Get("scope"))
		if err != nil {
			return nil, &tokenError{http.StatusBadRequest, "invalid_scope", err.Error()}
		}
		aud, err := s.Audience(f["resource"])
		if err != nil {
			return nil, &tokenError{http.StatusBadRequest, "invalid_target", err.Error()}
		}
		return s.issue(r.Context(), Grant{ClientID: client.ID, Subject: client.ID, Scope: granted.String(), Audience: aud}, false, "")
	default:
		return nil, &tokenError{http.StatusBadRequest, "unsupported_grant_type", "grant_type " + gt + " is not supported"}
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
	unauthorized := &tokenError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}
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
		return nil, &tokenError{http.StatusBadRequest, "invalid_target", "resource differs from the one authorized"}
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

// RefreshRaceGrace is how soon after a refresh token's rotation a second
// use of it counts as the loser of a race rather than a replay. Of
// concurrent refresh requests with one token exactly one wins (the store's
// atomic Take decides) and gets the new pair; the others get invalid_grant
// and the family survives when they arrive within the grace (a client
// retrying or racing itself). A use later than that is a replay of a
// rotated token and revokes the whole family (RFC 9700 §4.14.2).
const RefreshRaceGrace = 10 * time.Second

// usedRefresh marks a rotated refresh token, as stored.
type usedRefresh struct {
	Family string    `json:"family"`
	At     time.Time `json:"at"`
}

func (s *Server) exchangeRefresh(ctx context.Context, client *registration.Client, f url.Values) (map[string]any, error) {
	if !client.AllowsGrant("refresh_token") {
		return nil, &tokenError{http.StatusBadRequest, "unauthorized_client", "the client did not register refresh_token"}
	}
	rt := f.Get("refresh_token")
	var rec refreshRecord
	if err := s.get(ctx, "refresh:"+rt, &rec); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, s.reused(ctx, rt)
	}
	// Everything is checked before the token is consumed, so a refused
	// request (another client, a widening scope) leaves it usable.
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
			return nil, &tokenError{http.StatusBadRequest, "invalid_scope", "a refresh may only narrow the granted scopes " + strconv.Quote(g.Scope)}
		}
		g.Scope = narrowed.String()
	}
	if err := s.take(ctx, "refresh:"+rt, &rec); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, s.reused(ctx, rt) // a concurrent request won
	}
	used, _ := json.Marshal(usedRefresh{Family: rec.Family, At: s.now()})
	_ = s.Store.Put(ctx, "refresh-used:"+rt, used, s.refreshTTL()+grace)
	return s.issue(ctx, g, true, rec.Family)
}

// reused answers a refresh token that is not (or no longer) stored: unknown,
// the loser of a race within RefreshRaceGrace, or a replay, which revokes
// its family for as long as a token of the family can live.
func (s *Server) reused(ctx context.Context, rt string) error {
	var u usedRefresh
	if err := s.get(ctx, "refresh-used:"+rt, &u); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return badGrant("unknown refresh token")
		}
		return err
	}
	if s.now().Sub(u.At) < RefreshRaceGrace {
		return badGrant("the refresh token was just used by a concurrent request, which received the new tokens")
	}
	if err := s.Store.Put(ctx, "revoked:"+u.Family, []byte{1}, s.refreshTTL()+grace); err != nil {
		return unavailable()
	}
	return badGrant("the refresh token was already used; its family is revoked")
}

// get reads the record at key from the store and decodes it.
func (s *Server) get(ctx context.Context, key string, into any) error {
	b, err := s.Store.Get(ctx, key)
	return decode(b, err, into)
}

// take takes the record at key from the store and decodes it.
func (s *Server) take(ctx context.Context, key string, into any) error {
	b, err := s.Store.Take(ctx, key)
	return decode(b, err, into)
}

// decode decodes a record the store returned: ErrNotFound as it is, other
// store errors as unavailable.
func decode(b []byte, err error, into any) error {
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
