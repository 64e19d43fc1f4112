package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/idpclaims"
	"github.com/mcpauth/mcpauth/scopes"
)

// TestRealIdPTokenShapes signs the recorded claim sets and headers of real
// authorization servers (fresh times, same names and types) and checks what
// a server configured for each accepts.
func TestRealIdPTokenShapes(t *testing.T) {
	tests := []struct {
		provider string
		resource string
		issuer   func(auth.Issuer) auth.Issuer
		scopes   scopes.Config
		reason   auth.Reason // "" means accepted
		want     string      // normalized scopes when accepted
		clientID string
	}{
		{provider: "Microsoft Entra ID - v2.0 access token, delegated", resource: "https://mcp.example.com/mcp",
			issuer: func(i auth.Issuer) auth.Issuer {
				i.Audiences = []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"}
				return i
			},
			want: "access_as_user mcp.tools.read", clientID: "3f2b8c1e-5d4a-4c7b-9e10-2a6b7c8d9e0f"},
		{provider: "Microsoft Entra ID - v2.0 access token, delegated", resource: "https://mcp.example.com/mcp", reason: auth.ReasonAudienceMismatch},
		{provider: "Microsoft Entra ID - v1.0", resource: "https://mcp.example.com/mcp",
			issuer: func(i auth.Issuer) auth.Issuer {
				i.Audiences = []string{"api://6e74172b-be56-4843-9ff4-e66a39bb12e3"}
				return i
			},
			want: "user_impersonation"},
		{provider: "Okta", resource: "https://mcp.example.com", want: "email mcp:read mcp:write openid", clientID: "0oa1b2c3d4e5F6g7h8i9"},
		{provider: "Auth0 - default", resource: "https://mcp.example.com/mcp", want: "openid profile read:tools write:tools", clientID: "K1AUPhZq8mRi0Q0pjhkfu1D7y6KjDQja"},
		{provider: "Auth0 - RFC 9068", resource: "https://mcp.example.com/mcp", scopes: scopes.Config{Claims: []string{"permissions"}}, want: "read:tools write:tools"},
		{provider: "Keycloak", resource: "https://mcp.example.com/mcp",
			issuer: func(i auth.Issuer) auth.Issuer { i.Audiences = []string{"mcp-server"}; return i }, want: "email mcp:read openid profile", clientID: "mcp-client"},
		{provider: "Scalekit", resource: "https://mcp.example.com", want: "todo:read todo:write", clientID: "skc_70087756327420046"},
		{provider: "WorkOS", resource: "https://mcp.example.com/mcp", want: "email offline_access openid profile"},
		{provider: "Ory Hydra", resource: "https://mcp.example.com/mcp", want: "mcp:read offline_access openid"},
		{provider: "panva/node-oidc-provider", resource: "https://mcp.example.com/mcp", want: "mcp:read mcp:write", clientID: "mcp-client-abc"},
		// Cognito access tokens carry no aud: refused unless the pool adds one.
		{provider: "AWS Cognito", resource: "https://mcp.example.com/mcp", reason: auth.ReasonAudienceMismatch},
	}
	as := newTestAS(t)
	for _, tt := range tests {
		name := tt.provider
		if tt.reason != "" {
			name += " refused: " + string(tt.reason)
		}
		t.Run(name, func(t *testing.T) {
			p := idpclaims.Find(tt.provider)
			claims := map[string]any{}
			for k, v := range p.Claims {
				claims[k] = v
			}
			now := time.Now()
			claims["iat"], claims["exp"] = now.Unix(), now.Add(time.Hour).Unix()
			if _, ok := claims["nbf"]; ok {
				claims["nbf"] = now.Unix()
			}
			iss := claims["iss"].(string)
			is := auth.Issuer{URL: iss, JWKSURL: as.URL + "/jwks"}
			if tt.issuer != nil {
				is = tt.issuer(is)
			}
			a, err := auth.New(context.Background(), auth.Config{
				Tokens:   auth.VerifierConfig{Issuers: []auth.Issuer{is}},
				Resource: tt.resource, Scopes: scopes.MustNormalizer(tt.scopes),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			headers := map[string]any{"typ": nil}
			if typ, ok := p.Header["typ"]; ok {
				headers["typ"] = typ
			}
			tok, err := verify(a, as.mint("rsa-1", claims, headers))
			if tt.reason != "" {
				if !errors.Is(err, &auth.Error{Reason: tt.reason}) {
					t.Fatalf("err = %v, want %s", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tok.Scopes.String() != tt.want || tok.Issuer != iss || (tt.clientID != "" && tok.ClientID != tt.clientID) {
				t.Fatalf("token = scopes %q issuer %q client %q", tok.Scopes.String(), tok.Issuer, tok.ClientID)
			}
			if !strings.HasPrefix(tok.Fingerprint(), "sha256:") {
				t.Fatalf("fingerprint %q", tok.Fingerprint())
			}
		})
	}
}
