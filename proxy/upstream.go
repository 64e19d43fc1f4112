package proxy

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcpauth/mcpauth/auth"

	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/internal/randid"
	"github.com/mcpauth/mcpauth/internal/retry"
	"github.com/mcpauth/mcpauth/metadata"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// upstream is the provider as discovered: the proxy's client at it, its
// metadata (nil for plain OAuth 2.0) and the verifier of its ID tokens.
type upstream struct {
	oauth    *oauth2.Config
	oidc     *metadata.AuthorizationServer
	idTokens *auth.Verifier
}

// checkUpstream refuses a Config.Upstream that names no usable provider.
func (p *Proxy) checkUpstream() error {
	u := p.cfg.Upstream
	switch {
	case u.ClientID == "":
		return errors.New("proxy: Config.Upstream.ClientID is required")
	case u.Issuer != "", u.AuthURL != "" && u.TokenURL != "" && u.UserInfoURL != "" && u.SubjectField != "":
		return nil
	}
	return errors.New("proxy: Config.Upstream needs an OpenID Connect Issuer, or AuthURL, TokenURL, UserInfoURL and SubjectField")
}

// discoverUpstream builds the upstream client: discovered from an OpenID
// Connect issuer, or the given OAuth 2.0 endpoints. ID tokens are checked
// by an auth.Verifier (the same bounded key set, refreshed on an unknown
// key id at most once per gap, and algorithm allowlist as access tokens):
// issuer the upstream's, audience the proxy's client id.
func (p *Proxy) discoverUpstream(ctx context.Context) (*upstream, error) {
	u := p.cfg.Upstream
	up := &upstream{oauth: &oauth2.Config{ClientID: u.ClientID, ClientSecret: u.ClientSecret, RedirectURL: p.cfg.Issuer + "/callback", Scopes: u.Scopes}}
	if u.Issuer == "" {
		up.oauth.Endpoint = oauth2.Endpoint{AuthURL: u.AuthURL, TokenURL: u.TokenURL}
		return up, nil
	}
	m, err := metadata.Discover(ctx, p.client, u.Issuer)
	if err != nil {
		return nil, fmt.Errorf("proxy: upstream %q: %w", u.Issuer, err)
	}
	if m.JWKSURI == "" {
		return nil, fmt.Errorf("proxy: upstream %q publishes no jwks_uri for its ID tokens", u.Issuer)
	}
	up.oidc = m
	up.oauth.Endpoint = oauth2.Endpoint{AuthURL: m.AuthorizationEndpoint, TokenURL: m.TokenEndpoint}
	if len(up.oauth.Scopes) == 0 {
		up.oauth.Scopes = []string{"openid"}
	}
	up.idTokens, err = auth.NewVerifier(ctx, auth.VerifierConfig{Audiences: []string{u.ClientID},
		Issuers: []auth.Issuer{{URL: m.Issuer, JWKSURL: m.JWKSURI}}, HTTPClient: p.client, TokenCacheTTL: -1, Now: p.cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("proxy: upstream %q: %w", u.Issuer, err)
	}
	return up, nil
}

// discoverLater discovers the upstream in the background (with
// internal/retry's backoff) until it succeeds or the proxy is closed; each
// failure is logged.
func (p *Proxy) discoverLater(ctx context.Context) {
	retry.Until(ctx, func(ctx context.Context) error {
		up, err := p.discoverUpstream(ctx)
		if err == nil {
			p.up.Store(up)
			p.log.Info("mcpauth proxy: upstream discovered", slog.String("issuer", p.cfg.Upstream.Issuer))
		}
		return err
	}, func(err error, wait time.Duration) {
		p.log.Warn("mcpauth proxy: upstream not reachable yet; sign-ins answer 503 until it is", slog.String("error", err.Error()), slog.Duration("retry_in", wait))
	})
}

// ready returns the upstream, or answers 503 with Retry-After while a lazy
// discovery has not found it yet.
func (p *Proxy) ready(w http.ResponseWriter) (*upstream, bool) {
	if up := p.up.Load(); up != nil {
		return up, true
	}
	w.Header().Set("Retry-After", "5")
	http.Error(w, "temporarily_unavailable: the identity provider has not been reached yet; retry in a few seconds", http.StatusServiceUnavailable)
	return nil, false
}

// pending is an authorization request waiting for the upstream login, as
// stored under its state.
type pending struct {
	ClientID    string   `json:"client_id"`
	RedirectURI string   `json:"redirect_uri"`
	State       string   `json:"state"`
	Challenge   string   `json:"challenge"`
	Scope       string   `json:"scope"`
	Audience    []string `json:"audience"`
	Verifier    string   `json:"verifier"` // the proxy's PKCE verifier upstream
	Nonce       string   `json:"nonce"`
	// Browser is the id of the browser that started the sign-in: only it
	// may complete it.
	Browser string `json:"browser"`
	// Approved says the user approved on the consent page in that browser:
	// remember it for whoever signs in.
	Approved bool `json:"approved"`
	// User is the user whose remembered approval skipped the consent page:
	// the sign-in must name them.
	User string `json:"user,omitempty"`
}

// startUpstream parks req under a fresh state, bound to this browser, and
// sends the user upstream; approved says the user approved it on the
// consent page just now, user names whose remembered approval let it skip
// the page.
func (p *Proxy) startUpstream(w http.ResponseWriter, r *http.Request, req *oauthas.Request, approved bool, user string) {
	up, ok := p.ready(w)
	if !ok {
		return
	}
	state, nonce, verifier := randid.New(24), randid.New(16), oauth2.GenerateVerifier()
	b, _ := json.Marshal(pending{ClientID: req.Client.ID, RedirectURI: req.RedirectURI, State: req.State, Challenge: req.Challenge,
		Scope: req.Scopes.String(), Audience: req.Audience, Verifier: verifier, Nonce: nonce, Browser: p.browserID(w, r), Approved: approved, User: user})
	if err := p.keep(r.Context(), r, "tx:"+state, b); err != nil {
		refuse(w, err)
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if up.oidc != nil {
		opts = append(opts, oauth2.SetAuthURLParam("nonce", nonce))
	}
	http.Redirect(w, r, up.oauth.AuthCodeURL(state, opts...), http.StatusFound)
}

// callback is where the upstream sends the user back: the pending request
// is taken (once: a replayed state finds nothing), the browser must be the
// one that started it, the upstream code is exchanged, the user
// identified, and the MCP client gets the proxy's code.
func (p *Proxy) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	b, err := p.public.Take(r.Context(), "tx:"+q.Get("state"))
	if errors.Is(err, store.ErrNotFound) || q.Get("state") == "" {
		http.Error(w, "invalid_request: unknown or already used state; start the authorization again", http.StatusBadRequest)
		return
	}
	if err != nil {
		unavailable(w, err)
		return
	}
	var tx pending
	if err := json.Unmarshal(b, &tx); err != nil {
		http.Error(w, "server_error: the pending authorization cannot be read", http.StatusInternalServerError)
		return
	}
	if !hmac.Equal([]byte(p.browser(r)), []byte(tx.Browser)) {
		p.refused(r, tx, "browser_mismatch", "the sign-in was completed in a browser other than the one that started it", nil)
		http.Error(w, "forbidden: this sign-in was started in another browser; start the authorization again from your MCP client", http.StatusForbidden)
		return
	}
	req, err := p.restore(r.Context(), tx)
	if err != nil {
		http.Error(w, "invalid_request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if e := q.Get("error"); e != "" {
		desc := truncate(e + ": " + q.Get("error_description"))
		p.refused(r, tx, "upstream_error", desc, nil)
		p.core.Deny(w, r, req, "access_denied", "the upstream sign-in failed: "+desc)
		return
	}
	up, ok := p.ready(w)
	if !ok {
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, p.client)
	tok, err := up.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(tx.Verifier))
	if err != nil {
		p.refused(r, tx, "upstream_exchange", "the upstream code exchange failed", err)
		p.core.Deny(w, r, req, "access_denied", "the upstream code exchange failed")
		return
	}
	id, err := p.identify(ctx, up, tok, tx.Nonce)
	if err != nil {
		p.refused(r, tx, "upstream_identity", "the upstream identity cannot be verified", err)
		p.core.Deny(w, r, req, "access_denied", "the upstream identity cannot be verified: "+truncate(err.Error()))
		return
	}
	if tx.User != "" && id.Subject != tx.User {
		// The page was skipped on another user's approval: this user never
		// consented. The browser forgets that user and asks next time.
		p.refused(r, tx, "user_mismatch", "signed in upstream as another user than the one whose approval skipped the consent page", nil)
		p.forget(w)
		p.core.Deny(w, r, req, "access_denied", "you signed in as another user than the one who approved this client in this browser; authorize again to be asked")
		return
	}
	approvedScopes := req.Scopes
	if p.cfg.MapScopes != nil {
		granted := p.cfg.MapScopes(id, req.Scopes)
		req.Scopes = req.Scopes.Difference(req.Scopes.Difference(granted)) // never more than was asked
	}
	grant := randid.New(16)
	sealedTok, _ := json.Marshal(tok)
	if err := p.store.Put(r.Context(), "upstream:"+grant, p.keyring.Seal(sealedTok, []byte("upstream:"+grant)), refreshTTL); err != nil {
		unavailable(w, err)
		return
	}
	p.signedIn(w, r, id.Subject, &oauthas.Request{Client: req.Client, RedirectURI: req.RedirectURI, Scopes: approvedScopes}, tx.Approved)
	p.core.Approve(w, r, req, id.Subject, map[string]string{"grant": grant})
}

// refused logs one refused sign-in: why, the upstream's error when there
// is one (its error code and description, never a token), and the client.
func (p *Proxy) refused(r *http.Request, tx pending, reason, msg string, err error) {
	attrs := []slog.Attr{slog.String("reason", reason), slog.String("client_id", tx.ClientID), slog.String("redirect_uri", tx.RedirectURI)}
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		attrs = append(attrs, slog.Int("upstream_status", re.Response.StatusCode), slog.String("upstream_error", re.ErrorCode),
			slog.String("upstream_error_description", truncate(re.ErrorDescription)))
	case err != nil:
		attrs = append(attrs, slog.String("error", truncate(err.Error())))
	}
	p.log.LogAttrs(r.Context(), slog.LevelWarn, "mcpauth proxy: sign-in refused: "+msg, attrs...)
}

// restore rebuilds the validated request of a pending authorization; the
// client must still exist and accept the redirect URI.
func (p *Proxy) restore(ctx context.Context, tx pending) (*oauthas.Request, error) {
	c, err := p.resolver.Client(ctx, tx.ClientID)
	if err != nil {
		return nil, err
	}
	if err := c.MatchRedirect(tx.RedirectURI); err != nil {
		return nil, err
	}
	set, _ := scopes.Parse(tx.Scope)
	return &oauthas.Request{Client: c, RedirectURI: tx.RedirectURI, State: tx.State, Challenge: tx.Challenge, Scopes: set, Audience: tx.Audience}, nil
}

// identify names the upstream user: the verified ID token's sub (OpenID
// Connect), or the user info response's SubjectField (OAuth 2.0).
func (p *Proxy) identify(ctx context.Context, up *upstream, tok *oauth2.Token, nonce string) (Identity, error) {
	if up.oidc != nil {
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			return Identity{}, errors.New("the upstream returned no ID token")
		}
		t, err := up.idTokens.Verify(ctx, raw)
		if err != nil {
			return Identity{}, fmt.Errorf("the ID token: %w", err)
		}
		claims := t.Claims()
		if n, _ := claims["nonce"].(string); !hmac.Equal([]byte(n), []byte(nonce)) {
			return Identity{}, errors.New("the ID token's nonce is not this login's")
		}
		return Identity{Subject: t.Subject, Claims: claims, Token: tok}, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.Upstream.UserInfoURL, nil)
	if err != nil {
		return Identity{}, err
	}
	req.Header.Set("Accept", "application/json")
	tok.SetAuthHeader(req)
	resp, err := p.client.Do(req)
	if err != nil {
		return Identity{}, err
	}
	defer resp.Body.Close()
	var info map[string]any
	if err := readJSON(resp, &info); err != nil {
		return Identity{}, fmt.Errorf("user info: %w", err)
	}
	var sub string
	switch v := info[p.cfg.Upstream.SubjectField].(type) {
	case string:
		sub = v
	case float64:
		sub = strconv.FormatFloat(v, 'f', -1, 64)
	}
	if sub == "" {
		return Identity{}, fmt.Errorf("user info has no %q", p.cfg.Upstream.SubjectField)
	}
	return Identity{Subject: sub, Claims: info, Token: tok}, nil
}

func unavailable(w http.ResponseWriter, _ error) {
	w.Header().Set("Retry-After", "10")
	http.Error(w, "temporarily_unavailable: the server's store is unavailable; retry later", http.StatusServiceUnavailable)
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}
