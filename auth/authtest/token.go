package authtest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// tokenError is an RFC 6749 §5.2 error.
type tokenError struct {
	status     int
	code, desc string
}

func (e *tokenError) Error() string { return e.code + ": " + e.desc }

func badGrant(desc string) error { return &tokenError{http.StatusBadRequest, "invalid_grant", desc} }

// token is the token endpoint.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	resp, err := s.tokenResponse(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		var te *tokenError
		if !errors.As(err, &te) {
			te = &tokenError{http.StatusBadRequest, "invalid_request", err.Error()}
		}
		if te.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="authtest"`)
		}
		w.WriteHeader(te.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": te.code, "error_description": te.desc})
		return
	}
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) tokenResponse(r *http.Request) (map[string]any, error) {
	if r.Method != http.MethodPost {
		return nil, &tokenError{http.StatusMethodNotAllowed, "invalid_request", "use POST"}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, &tokenError{http.StatusBadRequest, "invalid_request", "malformed form body"}
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
			return nil, &tokenError{http.StatusBadRequest, "unauthorized_client", "public clients cannot use client_credentials"}
		}
		if !client.AllowsGrant(gt) {
			return nil, &tokenError{http.StatusBadRequest, "unauthorized_client", "the client did not register client_credentials"}
		}
		granted, err := s.grantScopes(f.Get("scope"))
		if err != nil {
			return nil, &tokenError{http.StatusBadRequest, "invalid_scope", err.Error()}
		}
		aud, err := s.audience(f["resource"])
		if err != nil {
			return nil, &tokenError{http.StatusBadRequest, "invalid_target", err.Error()}
		}
		return s.issue(r.Context(), client, client.ID, granted, aud, false, "")
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
	client, err := s.resolver.Client(r.Context(), id)
	if errors.Is(err, store.ErrUnavailable) {
		return nil, unavailable(err)
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
	var g grant
	if err := s.take(ctx, "code:"+code, &g); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if _, used := s.store.Get(ctx, "code-used:"+code); used == nil {
			return nil, badGrant("the authorization code was already used")
		}
		return nil, badGrant("unknown authorization code")
	}
	// Taken: no replica can redeem it again. Remember the use, so a replay
	// is named as such.
	_ = s.store.Put(ctx, "code-used:"+code, []byte{1}, codeTTL+grace)
	switch {
	case s.opts.Now().After(g.Expires):
		return nil, badGrant("the authorization code expired")
	case g.ClientID != client.ID:
		return nil, badGrant("the authorization code was issued to another client")
	case f.Get("redirect_uri") != g.RedirectURI:
		return nil, badGrant("redirect_uri differs from the one in the authorization request")
	case f.Get("code_verifier") == "":
		return nil, badGrant("code_verifier is required (PKCE)")
	case subtle.ConstantTimeCompare([]byte(s256(f.Get("code_verifier"))), []byte(g.Challenge)) != 1:
		return nil, badGrant("code_verifier does not match the code_challenge")
	}
	if res := f["resource"]; len(res) > 0 && strings.Join(res, " ") != strings.Join(g.Audience, " ") {
		return nil, &tokenError{http.StatusBadRequest, "invalid_target", "resource differs from the one authorized"}
	}
	granted, _ := scopes.Parse(g.Scope)
	offline := granted.Contains(scopes.OfflineAccess) || s.opts.RefreshWithoutOfflineAccess
	return s.issue(ctx, client, g.Subject, granted, g.Audience, offline && client.AllowsGrant("refresh_token"), "")
}

func (s *Server) exchangeRefresh(ctx context.Context, client *registration.Client, f url.Values) (map[string]any, error) {
	if !client.AllowsGrant("refresh_token") {
		return nil, &tokenError{http.StatusBadRequest, "unauthorized_client", "the client did not register refresh_token"}
	}
	rt := f.Get("refresh_token")
	var rec refreshRecord
	if err := s.take(ctx, "refresh:"+rt, &rec); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		family, err := s.store.Get(ctx, "refresh-used:"+rt)
		if err != nil {
			return nil, badGrant("unknown refresh token")
		}
		// Reuse of a rotated token revokes its whole family, for as long as a
		// token of the family can live.
		if err := s.store.Put(ctx, "revoked:"+string(family), []byte{1}, refreshTTL+grace); err != nil {
			return nil, unavailable(err)
		}
		return nil, badGrant("the refresh token was already used; its family is revoked")
	}
	_ = s.store.Put(ctx, "refresh-used:"+rt, []byte(rec.Family), refreshTTL+grace)
	if _, err := s.store.Get(ctx, "revoked:"+rec.Family); err == nil {
		return nil, badGrant("the refresh token was revoked")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, unavailable(err)
	}
	switch {
	case s.opts.Now().After(rec.Expires):
		return nil, badGrant("the refresh token expired")
	case rec.ClientID != client.ID:
		return nil, badGrant("the refresh token was issued to another client")
	}
	held, _ := scopes.Parse(rec.Scope)
	granted := held
	if sc := f.Get("scope"); sc != "" {
		narrowed, err := scopes.Parse(sc)
		if err != nil || !held.ContainsAll(narrowed) {
			return nil, &tokenError{http.StatusBadRequest, "invalid_scope", "a refresh may only narrow the granted scopes"}
		}
		granted = narrowed
	}
	return s.issue(ctx, client, rec.Subject, granted, rec.Audience, true, rec.Family)
}

// take takes the record at key from the store and decodes it.
func (s *Server) take(ctx context.Context, key string, into any) error {
	b, err := s.store.Take(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return err
	case err != nil:
		return unavailable(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("authtest: a stored record cannot be read: %w", err)
	}
	return nil
}

// unavailable is the answer when the store cannot be reached: never a
// grant, and nothing about the store's address.
func unavailable(error) error {
	return &tokenError{http.StatusServiceUnavailable, "temporarily_unavailable", "the server's store is unavailable; retry later"}
}

// issue mints an access token (and a rotated refresh token when asked).
func (s *Server) issue(ctx context.Context, client *registration.Client, subject string, granted scopes.Set, aud []string, withRefresh bool, family string) (map[string]any, error) {
	resp := map[string]any{
		"access_token": s.Mint(TokenRequest{Subject: subject, ClientID: client.ID, Scopes: granted.Slice(), Audience: aud}),
		"token_type":   "Bearer",
		"expires_in":   int(s.opts.AccessTokenTTL.Seconds()),
		"scope":        granted.String(),
	}
	if withRefresh {
		if family == "" {
			family = randomString(8)
		}
		rt := randomString(32)
		b, _ := json.Marshal(refreshRecord{ClientID: client.ID, Subject: subject, Family: family, Scope: granted.String(), Audience: aud, Expires: s.opts.Now().Add(refreshTTL)})
		switch err := s.store.Put(ctx, "refresh:"+rt, b, refreshTTL+grace); {
		case err == nil:
			resp["refresh_token"] = rt
		case errors.Is(err, store.ErrUnavailable):
			return nil, unavailable(err)
		} // when full, the client gets no refresh token and authorizes again
	}
	return resp, nil
}
