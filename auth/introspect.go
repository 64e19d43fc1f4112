package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/internal/capped"
)

// introspector validates opaque tokens with RFC 7662 token introspection.
type introspector struct {
	cfg    Introspection
	client *http.Client
	ttl    time.Duration
}

const maxIntrospectionBytes = 64 << 10

func newIntrospector(cfg Introspection, client *http.Client) *introspector {
	return &introspector{cfg: cfg, client: client, ttl: orDefault(cfg.CacheTTL, defaultIntrospectTTL)}
}

// verifyIntrospected asks the introspection endpoint about raw and checks
// what it says: active, then exp, iss and aud, like a JWT's claims.
func (v *Verifier) verifyIntrospected(ctx context.Context, raw string) (*Token, error) {
	claims, err := v.introspect.ask(ctx, raw)
	if err != nil {
		return nil, err
	}
	iss, _ := claims["iss"].(string)
	if iss == "" {
		iss = v.introspect.cfg.Issuer
		claims["iss"] = iss
	}
	is := v.issuers[iss]
	if is == nil {
		if iss != v.introspect.cfg.Issuer {
			return nil, untrusted(v.trusted, iss)
		}
		is = &issuer{url: iss}
	}
	t, err := v.checkClaims(new(Token), claimMap(claims), is, raw)
	if err != nil {
		return nil, err
	}
	t.Introspected = true
	return t, nil
}

// ask posts raw to the introspection endpoint and returns the claims of an
// active answer.
func (in *introspector) ask(ctx context.Context, raw string) (map[string]any, error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &Error{Reason: ReasonIntrospectionFailed, Description: "introspection request cannot be built", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.cfg.ClientID != "" {
		req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret))
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, &Error{Reason: ReasonIntrospectionFailed, Description: "the introspection endpoint is unreachable; retry later", Err: err}
	}
	defer resp.Body.Close()
	body, over, err := capped.ReadAll(resp.Body, maxIntrospectionBytes, resp.ContentLength)
	switch {
	case err != nil:
		return nil, &Error{Reason: ReasonIntrospectionFailed, Description: "the introspection response could not be read", Err: err}
	case resp.StatusCode != http.StatusOK:
		return nil, &Error{Reason: ReasonIntrospectionFailed, Description: "the introspection endpoint failed; retry later",
			Err: fmt.Errorf("introspection endpoint answered HTTP %d, expected 200", resp.StatusCode)}
	case over:
		return nil, &Error{Reason: ReasonIntrospectionFailed, Description: "the introspection response is too large",
			Err: fmt.Errorf("introspection response larger than %d bytes", maxIntrospectionBytes)}
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil || claims == nil {
		return nil, &Error{Reason: ReasonIntrospectionFailed, Description: "the introspection response is not a JSON object", Err: err}
	}
	if active, _ := claims["active"].(bool); !active {
		return nil, fail(ReasonTokenInactive, "the authorization server says the token is not active (revoked, expired or unknown)")
	}
	return claims, nil
}
