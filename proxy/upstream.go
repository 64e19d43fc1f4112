package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/oauth2"

	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/internal/randid"
	"github.com/mcpauth/mcpauth/metadata"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// setUpstream configures the upstream client: discovered from an OpenID
// Connect issuer, or the given OAuth 2.0 endpoints.
func (p *Proxy) setUpstream(ctx context.Context) error {
	u := p.cfg.Upstream
	if u.ClientID == "" {
		return errors.New("proxy: Config.Upstream.ClientID is required")
	}
	p.upstream = &oauth2.Config{ClientID: u.ClientID, ClientSecret: u.ClientSecret, RedirectURL: p.cfg.Issuer + "/callback", Scopes: u.Scopes}
	switch {
	case u.Issuer != "":
		m, err := metadata.Discover(ctx, p.client, u.Issuer)
		if err != nil {
			return fmt.Errorf("proxy: upstream %q: %w", u.Issuer, err)
		}
		if m.JWKSURI == "" {
			return fmt.Errorf("proxy: upstream %q publishes no jwks_uri for its ID tokens", u.Issuer)
		}
		p.oidc = m
		p.upstream.Endpoint = oauth2.Endpoint{AuthURL: m.AuthorizationEndpoint, TokenURL: m.TokenEndpoint}
		if len(p.upstream.Scopes) == 0 {
			p.upstream.Scopes = []string{"openid"}
		}
		bg, cancel := context.WithCancel(context.Background())
		p.cancel = cancel
		p.keys = jwk.NewCache(bg)
		if err := p.keys.Register(m.JWKSURI, jwk.WithHTTPClient(p.client)); err != nil {
			cancel()
			return err
		}
	case u.AuthURL != "" && u.TokenURL != "" && u.UserInfoURL != "" && u.SubjectField != "":
		p.upstream.Endpoint = oauth2.Endpoint{AuthURL: u.AuthURL, TokenURL: u.TokenURL}
	default:
		return errors.New("proxy: Config.Upstream needs an OpenID Connect Issuer, or AuthURL, TokenURL, UserInfoURL and SubjectField")
	}
	return nil
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
	Approved    bool     `json:"approved"` // the user approved on the consent page: remember it for them
}

// startUpstream parks req under a fresh state and sends the user upstream;
// approved says the user approved it on the consent page just now.
func (p *Proxy) startUpstream(w http.ResponseWriter, r *http.Request, req *oauthas.Request, approved bool) {
	state, nonce, verifier := randid.New(24), randid.New(16), oauth2.GenerateVerifier()
	b, _ := json.Marshal(pending{ClientID: req.Client.ID, RedirectURI: req.RedirectURI, State: req.State, Challenge: req.Challenge,
		Scope: req.Scopes.String(), Audience: req.Audience, Verifier: verifier, Nonce: nonce, Approved: approved})
	if err := p.store.Add(r.Context(), "tx:"+state, b, txTTL); err != nil {
		unavailable(w, err)
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if p.oidc != nil {
		opts = append(opts, oauth2.SetAuthURLParam("nonce", nonce))
	}
	http.Redirect(w, r, p.upstream.AuthCodeURL(state, opts...), http.StatusFound)
}

// callback is where the upstream sends the user back: the pending request
// is taken (once: a replayed state finds nothing), the upstream code
// exchanged, the user identified, and the MCP client gets the proxy's code.
func (p *Proxy) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	b, err := p.store.Take(r.Context(), "tx:"+q.Get("state"))
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
	req, err := p.restore(r.Context(), tx)
	if err != nil {
		http.Error(w, "invalid_request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if e := q.Get("error"); e != "" {
		p.core.Deny(w, r, req, "access_denied", "the upstream sign-in failed: "+truncate(e+": "+q.Get("error_description")))
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, p.client)
	tok, err := p.upstream.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(tx.Verifier))
	if err != nil {
		p.core.Deny(w, r, req, "access_denied", "the upstream code exchange failed")
		return
	}
	id, err := p.identify(ctx, tok, tx.Nonce)
	if err != nil {
		p.core.Deny(w, r, req, "access_denied", "the upstream identity cannot be verified: "+truncate(err.Error()))
		return
	}
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
	p.signedIn(w, r, id.Subject, req, tx.Approved)
	p.core.Approve(w, r, req, id.Subject, map[string]string{"grant": grant})
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
func (p *Proxy) identify(ctx context.Context, tok *oauth2.Token, nonce string) (Identity, error) {
	if p.oidc != nil {
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			return Identity{}, errors.New("the upstream returned no ID token")
		}
		keys, err := p.keys.Get(ctx, p.oidc.JWKSURI)
		if err != nil {
			return Identity{}, fmt.Errorf("the upstream's keys: %w", err)
		}
		t, err := jwt.Parse([]byte(raw), jwt.WithKeySet(keys, jws.WithInferAlgorithmFromKey(true)), jwt.WithValidate(true),
			jwt.WithIssuer(p.oidc.Issuer), jwt.WithAudience(p.upstream.ClientID), jwt.WithClock(jwt.ClockFunc(p.cfg.Now)), jwt.WithAcceptableSkew(30*time.Second))
		if err != nil {
			return Identity{}, fmt.Errorf("the ID token: %w", err)
		}
		if n, _ := t.Get("nonce"); n != nonce {
			return Identity{}, errors.New("the ID token's nonce is not this login's")
		}
		claims, _ := t.AsMap(ctx)
		if t.Subject() == "" {
			return Identity{}, errors.New("the ID token has no sub")
		}
		return Identity{Subject: t.Subject(), Claims: claims, Token: tok}, nil
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
