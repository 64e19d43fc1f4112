package metadata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/internal/capped"
)

// AuthorizationServer is the RFC 8414 §2 authorization server metadata
// document, with the OpenID Connect Discovery 1.0 fields MCP clients read and
// the extensions the MCP specification relies on.
type AuthorizationServer struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                              string   `json:"token_endpoint,omitempty"`
	JWKSURI                                    string   `json:"jwks_uri,omitempty"`
	RegistrationEndpoint                       string   `json:"registration_endpoint,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                     []string `json:"response_types_supported,omitempty"`
	ResponseModesSupported                     []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported                        []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	ServiceDocumentation                       string   `json:"service_documentation,omitempty"`
	UILocalesSupported                         []string `json:"ui_locales_supported,omitempty"`
	OPPolicyURI                                string   `json:"op_policy_uri,omitempty"`
	OPTOSURI                                   string   `json:"op_tos_uri,omitempty"`
	RevocationEndpoint                         string   `json:"revocation_endpoint,omitempty"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint,omitempty"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	// CodeChallengeMethodsSupported must include "S256", or MCP clients refuse
	// to use the server.
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported,omitempty"`
	// ClientIDMetadataDocumentSupported advertises Client ID Metadata Documents.
	ClientIDMetadataDocumentSupported bool `json:"client_id_metadata_document_supported,omitempty"`
	// AuthorizationResponseISSParameterSupported advertises RFC 9207 "iss" in
	// authorization responses.
	AuthorizationResponseISSParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
	// DPoPSigningAlgValuesSupported lists the DPoP proof algorithms the
	// token endpoint accepts (RFC 9449 §5.1).
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// AuthorizationGrantProfilesSupported lists the assertion grant
	// profiles accepted, e.g. urn:ietf:params:oauth:grant-profile:id-jag
	// for enterprise-managed authorization (Identity Assertion JWT
	// Authorization Grants).
	AuthorizationGrantProfilesSupported []string `json:"authorization_grant_profiles_supported,omitempty"`
	// UserinfoEndpoint is the OpenID Connect UserInfo endpoint.
	UserinfoEndpoint string `json:"userinfo_endpoint,omitempty"`
	// SubjectTypesSupported is the OpenID Connect subject types list.
	SubjectTypesSupported []string `json:"subject_types_supported,omitempty"`
	// IDTokenSigningAlgValuesSupported is the OpenID Connect ID token algorithm list.
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty"`
}

// SupportsS256 reports whether the server advertises PKCE with S256.
func (m *AuthorizationServer) SupportsS256() bool {
	for _, c := range m.CodeChallengeMethodsSupported {
		if c == "S256" {
			return true
		}
	}
	return false
}

// AuthorizationServerHandler serves m as JSON, like [Handler].
func AuthorizationServerHandler(m AuthorizationServer) http.Handler { return jsonHandler(m) }

// ParseAuthorizationServer decodes an RFC 8414 document and checks it is a
// JSON object with an "issuer".
func ParseAuthorizationServer(b []byte) (*AuthorizationServer, error) {
	var m AuthorizationServer
	if err := decodeObject(b, &m); err != nil {
		return nil, fmt.Errorf("metadata: authorization server metadata: %w", err)
	}
	if m.Issuer == "" {
		return nil, fmt.Errorf("metadata: authorization server metadata has no \"issuer\"")
	}
	return &m, nil
}

// DiscoveryURLs returns the metadata URLs of issuer in the order MCP clients
// try them. For an issuer without a path: the RFC 8414 and OpenID Connect
// well-known URLs at the root. For https://as/tenant1: the RFC 8414 URL with
// the path inserted, the OpenID Connect URL with the path inserted, and the
// OpenID Connect URL with the path appended.
func DiscoveryURLs(issuer string) ([]string, error) {
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("metadata: issuer %q is not an absolute URL", issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("metadata: issuer %q has a query or fragment (RFC 8414 §2 forbids both)", issuer)
	}
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	if path == "" {
		return []string{
			origin + "/.well-known/oauth-authorization-server",
			origin + "/.well-known/openid-configuration",
		}, nil
	}
	return []string{
		origin + "/.well-known/oauth-authorization-server" + path,
		origin + "/.well-known/openid-configuration" + path,
		origin + path + "/.well-known/openid-configuration",
	}, nil
}

// MaxDocumentBytes bounds a fetched metadata document.
const MaxDocumentBytes = 1 << 20

// Attempt records one URL [Discover] tried and what came back.
type Attempt struct {
	URL    string
	Status int   // HTTP status, 0 when no response arrived
	Err    error // what was wrong: the fetch error, a parse error, or one wrapping ErrIssuerMismatch
}

// DiscoveryError reports that no URL of an issuer produced usable metadata.
// It wraps every attempt's error, so errors.Is(err, ErrIssuerMismatch) holds
// when some document named another issuer.
type DiscoveryError struct {
	Issuer   string
	Attempts []Attempt
}

// Unwrap returns the attempts' errors.
func (e *DiscoveryError) Unwrap() []error {
	errs := make([]error, len(e.Attempts))
	for i, a := range e.Attempts {
		errs[i] = a.Err
	}
	return errs
}

// Error returns the message: what was expected and what was seen.
func (e *DiscoveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "metadata: no authorization server metadata for issuer %q:", e.Issuer)
	for _, a := range e.Attempts {
		fmt.Fprintf(&b, " %s: %s;", a.URL, a.Err)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// ErrIssuerMismatch is wrapped when a metadata document's "issuer" differs
// from the issuer it was fetched for.
var ErrIssuerMismatch = errors.New("metadata: issuer mismatch")

// Discover fetches the metadata of issuer from the URLs of [DiscoveryURLs],
// in order, and returns the first document that is valid JSON whose "issuer"
// equals issuer byte for byte (RFC 8414 §3.3). client nil means a client with
// a 10 second timeout. Each body is capped at [MaxDocumentBytes]. On failure
// the *DiscoveryError names every URL tried and what it returned.
func Discover(ctx context.Context, client *http.Client, issuer string) (*AuthorizationServer, error) {
	urls, err := DiscoveryURLs(issuer)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	derr := &DiscoveryError{Issuer: issuer}
	for _, u := range urls {
		m, status, err := fetchAS(ctx, client, u)
		if err == nil && m.Issuer != issuer {
			err = fmt.Errorf("%w: document says issuer %q, expected %q%s", ErrIssuerMismatch, m.Issuer, issuer, slashNote(m.Issuer, issuer))
		}
		if err == nil {
			return m, nil
		}
		derr.Attempts = append(derr.Attempts, Attempt{URL: u, Status: status, Err: err})
		if ctx.Err() != nil {
			break
		}
	}
	return nil, derr
}

func slashNote(a, b string) string {
	if strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/") {
		return " (they differ only by a trailing slash)"
	}
	return ""
}

func fetchAS(ctx context.Context, client *http.Client, u string) (*AuthorizationServer, int, error) {
	b, status, err := Fetch(ctx, client, u)
	if err != nil {
		return nil, status, err
	}
	m, err := ParseAuthorizationServer(b)
	return m, status, err
}

// Fetch GETs a JSON document from u, capped at [MaxDocumentBytes]. A non-200
// status is an error that gives the status.
func Fetch(ctx context.Context, client *http.Client, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, resp.StatusCode, fmt.Errorf("HTTP %d, expected 200", resp.StatusCode)
	}
	b, over, err := capped.ReadAll(resp.Body, MaxDocumentBytes, resp.ContentLength)
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("reading body: %w", err)
	}
	if over {
		return nil, resp.StatusCode, fmt.Errorf("body larger than %d bytes", MaxDocumentBytes)
	}
	return b, resp.StatusCode, nil
}
