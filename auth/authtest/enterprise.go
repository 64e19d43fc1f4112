package authtest

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/internal/randid"
	"github.com/mcpauth/mcpauth/registration"
)

// The token exchange that makes an ID-JAG, as an enterprise IdP serves it
// (SEP-990): RFC 8693 with these types.
const (
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeIDJAG     = "urn:ietf:params:oauth:token-type:id-jag"
	TokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
	idJAGTTL           = 5 * time.Minute
)

// IDJAGRequest describes an Identity Assertion JWT Authorization Grant
// for [Server.IDJAG].
type IDJAGRequest struct {
	Subject  string        // "" means Options.Subject
	Audience string        // the authorization server that redeems it (its issuer)
	ClientID string        // the client there that may redeem it
	Resource string        // the MCP server it is for
	Scopes   []string      // what the enterprise allows, "" for none named
	TTL      time.Duration // zero means 5 minutes; negative mints an expired one
	// Header and Claims override the defaults, for hostile ID-JAGs (a
	// wrong typ, a missing jti).
	Header map[string]any
	Claims map[string]any
}

// IDJAG signs an ID-JAG as an enterprise IdP does at the end of its token
// exchange: typ oauth-id-jag+jwt, iss this server, and the request's sub,
// aud, client_id, resource and scope, with a fresh jti. The server is then
// an enterprise IdP stand-in: trust it with proxy.EnterpriseIdP{Issuer:
// s.URL}.
func (s *Server) IDJAG(r IDJAGRequest) string {
	if r.Subject == "" {
		r.Subject = s.opts.Subject
	}
	if r.TTL == 0 {
		r.TTL = idJAGTTL
	}
	now := s.opts.Now()
	claims := map[string]any{"iss": s.URL, "sub": r.Subject, "aud": r.Audience, "client_id": r.ClientID, "resource": r.Resource,
		"iat": now.Unix(), "exp": now.Add(r.TTL).Unix(), "jti": randid.New(16)}
	if len(r.Scopes) > 0 {
		claims["scope"] = strings.Join(r.Scopes, " ")
	}
	for k, v := range r.Claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	header := map[string]any{"typ": "oauth-id-jag+jwt"}
	for k, v := range r.Header {
		header[k] = v
	}
	return s.SignClaims("", claims, header)
}

// exchangeForIDJAG is the IdP side of enterprise-managed authorization:
// a client that signed the user in here (it holds the user's ID token)
// exchanges that ID token for an ID-JAG naming the authorization server
// (audience), the MCP server (resource) and scopes. The stand-in's policy
// allows every request of a client that registered the grant; the ID
// token must be this server's and issued to the requesting client, whose
// id the ID-JAG names as client_id (the stand-in assumes the client has
// the same id at the authorization server).
func (s *Server) exchangeForIDJAG(_ context.Context, client *registration.Client, f url.Values, _ *auth.DPoPProof) (map[string]any, error) {
	switch {
	case f.Get("requested_token_type") != TokenTypeIDJAG:
		return nil, oauthas.Refuse("invalid_request", "requested_token_type must be "+TokenTypeIDJAG)
	case f.Get("subject_token_type") != TokenTypeIDToken:
		return nil, oauthas.Refuse("invalid_request", "subject_token_type must be "+TokenTypeIDToken)
	case f.Get("audience") == "" || f.Get("resource") == "":
		return nil, oauthas.Refuse("invalid_request", "audience (the authorization server) and resource (the MCP server) are required")
	}
	id, err := jwt.Parse([]byte(f.Get("subject_token")), jwt.WithKeySet(s.publicSet(), jws.WithInferAlgorithmFromKey(true)),
		jwt.WithValidate(true), jwt.WithClock(jwt.ClockFunc(s.opts.Now)), jwt.WithIssuer(s.URL), jwt.WithAudience(client.ID))
	if err != nil {
		return nil, oauthas.Refuse("invalid_grant", "subject_token is not an ID token this server issued to the client: "+err.Error())
	}
	granted, err := s.grantScopes(f.Get("scope"))
	if err != nil {
		return nil, oauthas.Refuse("invalid_scope", err.Error())
	}
	jag := s.IDJAG(IDJAGRequest{Subject: id.Subject(), Audience: f.Get("audience"), ClientID: client.ID, Resource: f.Get("resource"), Scopes: granted.Slice()})
	return map[string]any{"access_token": jag, "issued_token_type": TokenTypeIDJAG, "token_type": "N_A", "expires_in": int(idJAGTTL.Seconds()), "scope": granted.String()}, nil
}
