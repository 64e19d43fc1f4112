package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/cache"
)

// Token exchange (RFC 8693) parameters.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
)

// Bounds of the downstream token cache, and how long before its expiry a
// cached token is no longer handed out.
const (
	maxDownstreamTokens     = 10_000
	maxDownstreamTokenBytes = 32 << 20
	downstreamEarly         = time.Minute
)

type downstreamCache = cache.Cache[*oauth2.Token]

func newDownstreamCache() *downstreamCache {
	return cache.New[*oauth2.Token](cache.Options{MaxEntries: maxDownstreamTokens, MaxBytes: maxDownstreamTokenBytes})
}

// DownstreamError is the upstream's refusal of a token exchange: its
// HTTP status and RFC 6749 §5.2 error.
type DownstreamError struct {
	Status      int
	Code        string
	Description string
}

// Error returns the upstream's error code and description.
func (e *DownstreamError) Error() string {
	return fmt.Sprintf("proxy: the upstream refused the token exchange (HTTP %d): %s: %s", e.Status, e.Code, e.Description)
}

// DownstreamToken returns an access token for another API (audience, with
// scopes) on behalf of the user whose proxy token authorized the current
// request (auth.TokenFromContext of ctx, as a tool handler's context
// carries it). The upstream provider issues it by token exchange of the
// user's upstream token (Upstream.Exchange: RFC 8693, or Entra's
// on-behalf-of flow), authenticated as the proxy's client there. Neither
// the MCP client's token nor the upstream token is ever sent to the API:
// a tool handler that needs to call one as the user gets a token made for
// it. Tokens are cached per user sign-in, audience and scopes until a
// minute before they expire. ErrNoUpstreamToken when the request's token
// was not issued through an upstream sign-in (a machine client, an
// enterprise grant); a [*DownstreamError] when the upstream refuses.
func (p *Proxy) DownstreamToken(ctx context.Context, audience string, scopes ...string) (*oauth2.Token, error) {
	grant := p.grantOf(auth.TokenFromContext(ctx))
	if grant == "" {
		return nil, ErrNoUpstreamToken
	}
	if audience == "" && len(scopes) == 0 {
		return nil, errors.New("proxy: DownstreamToken needs an audience or scopes")
	}
	scopes = slices.Clone(scopes)
	slices.Sort(scopes)
	key := grant + "\x00" + audience + "\x00" + strings.Join(scopes, " ")
	if tok, ok := p.down.Get(key); ok && time.Until(tok.Expiry) > downstreamEarly {
		return tok, nil
	}
	up, err := p.upstreamToken(ctx, grant)
	if err != nil {
		return nil, err
	}
	u := p.up.Load()
	if u == nil {
		return nil, errors.New("proxy: the upstream provider has not been discovered yet")
	}
	form := url.Values{}
	cfg := p.cfg.Upstream
	switch cfg.Exchange {
	case ExchangeEntraOBO:
		obo := slices.Clone(scopes)
		if len(obo) == 0 {
			obo = []string{strings.TrimSuffix(audience, "/") + "/.default"}
		}
		form.Set("grant_type", GrantJWTBearer)
		form.Set("assertion", up.AccessToken)
		form.Set("requested_token_use", "on_behalf_of")
		form.Set("scope", strings.Join(obo, " "))
		form.Set("client_id", cfg.ClientID)
		form.Set("client_secret", cfg.ClientSecret)
	default:
		form.Set("grant_type", grantTokenExchange)
		form.Set("subject_token", up.AccessToken)
		form.Set("subject_token_type", tokenTypeAccess)
		form.Set("requested_token_type", tokenTypeAccess)
		if audience != "" {
			form.Set("audience", audience)
			if a, err := url.Parse(audience); err == nil && a.IsAbs() {
				form.Set("resource", audience)
			}
		}
		if len(scopes) > 0 {
			form.Set("scope", strings.Join(scopes, " "))
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.oauth.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if cfg.Exchange != ExchangeEntraOBO {
		req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("proxy: token exchange at the upstream: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	status := resp.StatusCode
	if err := readBody(resp, &body); err != nil {
		return nil, fmt.Errorf("proxy: token exchange at the upstream: HTTP %d: %w", status, err)
	}
	if status != http.StatusOK || body.AccessToken == "" {
		if body.Error == "" {
			body.Error = "no access_token"
		}
		return nil, &DownstreamError{Status: status, Code: body.Error, Description: body.Description}
	}
	tok := &oauth2.Token{AccessToken: body.AccessToken, TokenType: body.TokenType}
	if life := time.Duration(body.ExpiresIn) * time.Second; life > 0 {
		tok.Expiry = time.Now().Add(life)
		if life > downstreamEarly {
			p.down.Set(key, tok, int64(len(key)+len(tok.AccessToken)), life-downstreamEarly)
		}
	}
	return tok, nil
}
