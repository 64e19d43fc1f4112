package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
)

// EnterpriseIdP is an enterprise identity provider whose Identity
// Assertion JWT Authorization Grants (ID-JAG; MCP's enterprise-managed
// authorization, SEP-990) the proxy accepts: the employee signed in to
// the IdP once, the IdP's policy decided that this client may reach this
// MCP server, and the client presents the IdP's assertion at the proxy's
// token endpoint (the RFC 7523 JWT-bearer grant) instead of sending the
// user through a browser. The enterprise's policy replaces the user's
// consent: no consent page is shown, and no refresh token is issued (the
// client asks the IdP again).
type EnterpriseIdP struct {
	// Issuer is the iss of its ID-JAGs, exactly. Required.
	Issuer string
	// JWKSURL is its key set; empty means discovered from its metadata.
	JWKSURL string
	// Keys, when set, are its keys (auth.NewStaticKeySet or your own),
	// and JWKSURL is not used.
	Keys auth.KeySet
}

// The JWT-bearer grant and the ID-JAG profile (token type, header typ).
const (
	GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	ProfileIDJAG   = "urn:ietf:params:oauth:grant-profile:id-jag"
	idJAGType      = "oauth-id-jag+jwt"
	maxIDJAGBytes  = 8 << 10
)

// trustEnterprise builds the verifier of ID-JAGs: issuers the configured
// IdPs, audience this proxy, typ oauth-id-jag+jwt (an ID token or access
// token of the IdP is not one), keys fetched and refreshed as an access
// token's are; never cached (each is redeemed once).
func (p *Proxy) trustEnterprise(ctx context.Context) error {
	var issuers []auth.Issuer
	for _, e := range p.cfg.Enterprise {
		if e.Issuer == "" {
			return errors.New("proxy: an EnterpriseIdP has no Issuer")
		}
		issuers = append(issuers, auth.Issuer{URL: e.Issuer, JWKSURL: e.JWKSURL, Keys: e.Keys})
	}
	v, err := auth.NewVerifier(ctx, auth.VerifierConfig{Issuers: issuers, Audiences: []string{p.cfg.Issuer}, Type: idJAGType,
		HTTPClient: p.client, TokenCacheTTL: -1, Now: p.cfg.Now})
	if err != nil {
		return fmt.Errorf("proxy: Config.Enterprise: %w", err)
	}
	p.idJAGs = v
	p.core.Grants[GrantJWTBearer] = p.idJAGGrant
	return nil
}

// idJAGGrant redeems an ID-JAG (draft-ietf-oauth-identity-assertion-authz-
// grant, SEP-990): typ oauth-id-jag+jwt, signed by a trusted IdP, aud this
// proxy, client_id the authenticated client, resource the MCP server, a
// jti used once. The access token is the user's (sub of the ID-JAG), with
// the scope asked for within what the ID-JAG and the client allow.
func (p *Proxy) idJAGGrant(ctx context.Context, client *registration.Client, f url.Values, proof *auth.DPoPProof) (map[string]any, error) {
	assertion := f.Get("assertion")
	switch {
	case len(f["assertion"]) != 1 || assertion == "":
		return nil, oauthas.Refuse("invalid_request", "send exactly one assertion")
	case len(assertion) > maxIDJAGBytes:
		return nil, oauthas.Refuse("invalid_grant", fmt.Sprintf("the assertion is longer than %d bytes", maxIDJAGBytes))
	}
	t, err := p.idJAGs.Verify(ctx, assertion)
	if err != nil {
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Reason.Status() == http.StatusServiceUnavailable {
			return nil, &oauthas.TokenError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Desc: "the enterprise IdP's keys cannot be fetched now; retry later"}
		}
		desc := err.Error()
		if ae != nil {
			desc = string(ae.Reason) + ": " + ae.Description
		}
		return nil, oauthas.Refuse("invalid_grant", "the ID-JAG is not valid: "+desc)
	}
	resource, _ := t.Claims()["resource"].(string)
	switch {
	case t.ClientID != client.ID:
		return nil, oauthas.Refuse("invalid_grant", fmt.Sprintf("the ID-JAG was issued to client %q, not to %q", t.ClientID, client.ID))
	case resource != p.cfg.Resource:
		return nil, oauthas.Refuse("invalid_target", fmt.Sprintf("the ID-JAG is for resource %q, not %q", resource, p.cfg.Resource))
	case len(f["resource"]) > 0 && (len(f["resource"]) > 1 || f.Get("resource") != p.cfg.Resource):
		return nil, oauthas.Refuse("invalid_target", fmt.Sprintf("resource must be %q, the ID-JAG's", p.cfg.Resource))
	}
	requested := f.Get("scope")
	if requested == "" {
		requested = t.Scopes.String()
	} else if asked, err := scopes.Parse(requested); err != nil || !t.Scopes.IsEmpty() && !t.Scopes.ContainsAll(asked) {
		return nil, oauthas.Refuse("invalid_scope", fmt.Sprintf("the ID-JAG allows %q only", t.Scopes.String()))
	}
	granted, err := p.core.ClientScopes(client, requested)
	if err != nil {
		return nil, err
	}
	if p.cfg.MapScopes != nil {
		mapped := p.cfg.MapScopes(Identity{Subject: t.Subject, Claims: t.Claims()}, granted)
		granted = granted.Difference(granted.Difference(mapped)) // never more than was asked
	}
	if err := p.core.Once(ctx, "id-jag:"+t.Issuer, t.ID, t.Expiry); err != nil {
		if oauthas.IsReplay(err) {
			return nil, oauthas.Refuse("invalid_grant", "the ID-JAG (jti "+t.ID+") was already redeemed")
		}
		return nil, err
	}
	p.log.InfoContext(ctx, "proxy: enterprise grant", "client_id", client.ID, "sub", t.Subject, "idp", t.Issuer, "scope", granted.String())
	return p.core.Issue(oauthas.Grant{ClientID: client.ID, Subject: t.Subject, Scope: granted.String(), Audience: []string{p.cfg.Resource}}, proof), nil
}
