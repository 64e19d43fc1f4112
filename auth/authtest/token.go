package authtest

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
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
		return s.exchangeCode(client, f)
	case "refresh_token":
		return s.exchangeRefresh(client, f)
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
		return s.issue(client, client.ID, granted, aud, false, ""), nil
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

func (s *Server) exchangeCode(client *registration.Client, f url.Values) (map[string]any, error) {
	code := f.Get("code")
	s.mu.Lock()
	g, ok := s.codes.Get(code)
	reused := ok && g.used
	if ok {
		g.used = true
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, badGrant("unknown authorization code")
	case reused:
		return nil, badGrant("the authorization code was already used")
	case s.opts.Now().After(g.expires):
		return nil, badGrant("the authorization code expired")
	case g.clientID != client.ID:
		return nil, badGrant("the authorization code was issued to another client")
	case f.Get("redirect_uri") != g.redirectURI:
		return nil, badGrant("redirect_uri differs from the one in the authorization request")
	case f.Get("code_verifier") == "":
		return nil, badGrant("code_verifier is required (PKCE)")
	case subtle.ConstantTimeCompare([]byte(s256(f.Get("code_verifier"))), []byte(g.challenge)) != 1:
		return nil, badGrant("code_verifier does not match the code_challenge")
	}
	if res := f["resource"]; len(res) > 0 && strings.Join(res, " ") != strings.Join(g.audience, " ") {
		return nil, &tokenError{http.StatusBadRequest, "invalid_target", "resource differs from the one authorized"}
	}
	offline := g.scopes.Contains(scopes.OfflineAccess) || s.opts.RefreshWithoutOfflineAccess
	return s.issue(client, g.subject, g.scopes, g.audience, offline && client.AllowsGrant("refresh_token"), ""), nil
}

func (s *Server) exchangeRefresh(client *registration.Client, f url.Values) (map[string]any, error) {
	if !client.AllowsGrant("refresh_token") {
		return nil, &tokenError{http.StatusBadRequest, "unauthorized_client", "the client did not register refresh_token"}
	}
	s.mu.Lock()
	rec, ok := s.refresh.Get(f.Get("refresh_token"))
	var reused, revoked bool
	if ok {
		_, revoked = s.revoked.Get(rec.family)
		reused = rec.used
		if reused {
			// Reuse of a rotated token revokes its whole family, for as long
			// as a token of the family can live. A family that cannot be
			// recorded has its token refused all the same.
			s.revoked.Set(rec.family, struct{}{}, int64(len(rec.family))+64, refreshTTL+grace)
		}
		rec.used = true
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, badGrant("unknown refresh token")
	case s.opts.Now().After(rec.expires):
		return nil, badGrant("the refresh token expired")
	case reused:
		return nil, badGrant("the refresh token was already used; its family is revoked")
	case revoked:
		return nil, badGrant("the refresh token was revoked")
	case rec.clientID != client.ID:
		return nil, badGrant("the refresh token was issued to another client")
	}
	granted := rec.scopes
	if sc := f.Get("scope"); sc != "" {
		narrowed, err := scopes.Parse(sc)
		if err != nil || !rec.scopes.ContainsAll(narrowed) {
			return nil, &tokenError{http.StatusBadRequest, "invalid_scope", "a refresh may only narrow the granted scopes"}
		}
		granted = narrowed
	}
	return s.issue(client, rec.subject, granted, rec.audience, true, rec.family), nil
}

// issue mints an access token (and a rotated refresh token when asked).
func (s *Server) issue(client *registration.Client, subject string, granted scopes.Set, aud []string, withRefresh bool, family string) map[string]any {
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
		rec := &refreshRecord{clientID: client.ID, subject: subject, family: family, scopes: granted, audience: aud, expires: s.opts.Now().Add(refreshTTL)}
		if s.refresh.Set(rt, rec, recordSize(granted, aud, client.ID, subject, family, rt), refreshTTL+grace) { // when full, the client gets no refresh token and authorizes again
			resp["refresh_token"] = rt
		}
	}
	return resp
}
