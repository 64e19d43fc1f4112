package registration

import (
	"crypto/sha256"
	"crypto/subtle"
	"time"
)

// Metadata is the RFC 7591 §2 client metadata, with the OpenID Connect
// application_type and the RFC 7591 §3.2.1 response fields.
type Metadata struct {
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	Contacts                []string `json:"contacts,omitempty"`
	TOSURI                  string   `json:"tos_uri,omitempty"`
	PolicyURI               string   `json:"policy_uri,omitempty"`
	JWKSURI                 string   `json:"jwks_uri,omitempty"`
	JWKS                    any      `json:"jwks,omitempty"`
	SoftwareID              string   `json:"software_id,omitempty"`
	SoftwareVersion         string   `json:"software_version,omitempty"`
	ApplicationType         string   `json:"application_type,omitempty"`

	// Response fields (RFC 7591 §3.2.1), also present in CIMD documents.
	ClientID              string `json:"client_id,omitempty"`
	ClientSecret          string `json:"client_secret,omitempty"`
	ClientIDIssuedAt      int64  `json:"client_id_issued_at,omitempty"`
	ClientSecretExpiresAt *int64 `json:"client_secret_expires_at,omitempty"`
}

// Kind says which registration model a client came from.
type Kind string

// The registration models.
const (
	KindStatic  Kind = "static"
	KindDynamic Kind = "dcr"
	KindCIMD    Kind = "cimd"
)

// Client is a registered client. Its secret is kept only as a SHA-256 hash.
type Client struct {
	ID       string
	Kind     Kind
	Metadata Metadata // ClientSecret is always empty here
	IssuedAt time.Time

	secretHash []byte // nil for public clients
	policy     RedirectPolicy
}

// Public reports whether the client has no credentials: no secret and no
// keys (token_endpoint_auth_method "none").
func (c *Client) Public() bool {
	return c.secretHash == nil && c.Metadata.TokenEndpointAuthMethod != PrivateKeyJWT
}

// PrivateKeyJWT is the token_endpoint_auth_method of clients that sign a
// JWT with their private key (RFC 7523 §2.2); their public keys are the
// metadata's jwks or jwks_uri.
const PrivateKeyJWT = "private_key_jwt"

// AuthenticateSecret reports whether secret is the client's secret, comparing
// hashes in constant time. Public clients never authenticate with a secret.
func (c *Client) AuthenticateSecret(secret string) bool {
	if c.secretHash == nil || secret == "" {
		return false
	}
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], c.secretHash) == 1
}

// AllowsGrant reports whether the client registered grant type g. A client
// that registered none allows authorization_code (RFC 7591 §2 default).
func (c *Client) AllowsGrant(g string) bool {
	if len(c.Metadata.GrantTypes) == 0 {
		return g == "authorization_code"
	}
	for _, v := range c.Metadata.GrantTypes {
		if v == g {
			return true
		}
	}
	return false
}

// MatchRedirect checks requested against the client's registered redirect
// URIs (see [RedirectPolicy.Match]).
func (c *Client) MatchRedirect(requested string) error {
	return c.policy.Match(c.Metadata.RedirectURIs, requested)
}

func hashSecret(secret string) []byte {
	if secret == "" {
		return nil
	}
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Static returns a pre-registered client. An empty secret makes a public
// client. The redirect URIs are matched under policy.
func Static(id, secret string, md Metadata, policy RedirectPolicy) *Client {
	md.ClientID, md.ClientSecret = id, ""
	if md.TokenEndpointAuthMethod == "" {
		md.TokenEndpointAuthMethod = "client_secret_basic"
		if secret == "" {
			md.TokenEndpointAuthMethod = "none"
		}
	}
	return &Client{ID: id, Kind: KindStatic, Metadata: md, secretHash: hashSecret(secret), policy: policy}
}
