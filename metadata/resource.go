package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ProtectedResourcePath is the well-known path segment of RFC 9728 §3.
const ProtectedResourcePath = "/.well-known/oauth-protected-resource"

// ProtectedResource is the RFC 9728 §2 protected resource metadata document.
// Empty fields are omitted from its JSON form.
type ProtectedResource struct {
	// Resource is the resource identifier: the canonical URL of the MCP
	// endpoint. REQUIRED; it must equal the URL clients use.
	Resource string `json:"resource"`
	// AuthorizationServers lists issuer identifiers of the authorization
	// servers that issue tokens for this resource (MCP requires at least one).
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// JWKSURI is the resource's own key set, for signed responses.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// ScopesSupported lists the scopes a client needs for basic use (MCP
	// guidance: the minimal set, not every scope).
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported lists how tokens may be presented: ["header"] for MCP.
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceSigningAlgValuesSupported lists JWS algorithms the resource signs with.
	ResourceSigningAlgValuesSupported []string `json:"resource_signing_alg_values_supported,omitempty"`
	// ResourceName is a human-readable name for consent screens.
	ResourceName string `json:"resource_name,omitempty"`
	// ResourceDocumentation is a URL of developer documentation.
	ResourceDocumentation string `json:"resource_documentation,omitempty"`
	// ResourcePolicyURI is a URL of the data-use policy.
	ResourcePolicyURI string `json:"resource_policy_uri,omitempty"`
	// ResourceTOSURI is a URL of the terms of service.
	ResourceTOSURI string `json:"resource_tos_uri,omitempty"`
	// TLSClientCertificateBoundAccessTokens says the resource supports RFC 8705
	// certificate-bound tokens.
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	// AuthorizationDetailsTypesSupported lists RFC 9396 authorization_details types.
	AuthorizationDetailsTypesSupported []string `json:"authorization_details_types_supported,omitempty"`
	// DPoPSigningAlgValuesSupported lists RFC 9449 DPoP proof algorithms.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// DPoPBoundAccessTokensRequired says only DPoP-bound tokens are accepted.
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required,omitempty"`
	// SignedMetadata is a JWT asserting the metadata values (RFC 9728 §2.2).
	SignedMetadata string `json:"signed_metadata,omitempty"`
}

// ErrInvalidResource is wrapped by every error about a resource identifier.
var ErrInvalidResource = errors.New("metadata: invalid resource identifier")

// CanonicalResource checks that raw is usable as an MCP resource identifier
// and returns its canonical form: absolute, https (http only for loopback
// hosts unless allowHTTP), no fragment, no query, no userinfo, scheme and host
// lowercased, no trailing slash on the path.
func CanonicalResource(raw string, allowHTTP bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalidResource, raw, err)
	}
	switch {
	case !u.IsAbs() || u.Host == "":
		return "", fmt.Errorf("%w: %q is not an absolute URL", ErrInvalidResource, raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fmt.Errorf("%w: %q has a fragment", ErrInvalidResource, raw)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("%w: %q has a query", ErrInvalidResource, raw)
	case u.User != nil:
		return "", fmt.Errorf("%w: %q has userinfo", ErrInvalidResource, raw)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !IsLoopbackHost(u.Hostname()) {
			return "", fmt.Errorf("%w: %q uses http on a non-loopback host; use https", ErrInvalidResource, raw)
		}
	default:
		return "", fmt.Errorf("%w: %q: scheme must be https, not %q", ErrInvalidResource, raw, u.Scheme)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// IsLoopbackHost reports whether host (without port) is localhost or a
// loopback IP address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// WellKnownURLs returns the two URLs of the metadata of resource, in the
// order MCP clients try them: the path-inserted one
// (https://host/.well-known/oauth-protected-resource/mcp) and the root one
// (https://host/.well-known/oauth-protected-resource). For a resource without
// a path both are the root URL.
func WellKnownURLs(resource string) (pathInserted, root string, err error) {
	return wellKnown(resource, ProtectedResourcePath)
}

func wellKnown(resource, suffix string) (pathInserted, root string, err error) {
	u, err := url.Parse(resource)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", "", fmt.Errorf("%w: %q is not an absolute URL", ErrInvalidResource, resource)
	}
	path := u.EscapedPath()
	if path == "/" {
		path = ""
	}
	origin := u.Scheme + "://" + u.Host
	return origin + suffix + path, origin + suffix, nil
}

// Handler serves doc as JSON at whatever path it is mounted: 200 on GET and
// HEAD, 204 with CORS headers on OPTIONS, 405 otherwise. Every response
// allows any origin (browser-based clients fetch metadata cross-origin) and
// carries a short Cache-Control max-age. The document is encoded once.
func Handler(doc ProtectedResource) http.Handler {
	return jsonHandler(doc)
}

type staticJSON struct {
	body []byte
}

func jsonHandler(v any) http.Handler {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("metadata: cannot encode document: %v", err))
	}
	return &staticJSON{body: append(b, '\n')}
}

func (h *staticJSON) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodOptions:
		hd.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "*")
		hd.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet, http.MethodHead:
		hd.Set("Content-Type", "application/json")
		hd.Set("Cache-Control", "public, max-age=300")
		hd.Set("Content-Length", fmt.Sprint(len(h.body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(h.body)
		}
	default:
		hd.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// ParseProtectedResource decodes an RFC 9728 document and checks what MCP
// requires of it: a JSON object with an absolute "resource" without a
// fragment. It does not compare resource with the URL it was fetched for;
// callers must (RFC 9728 §3.3).
func ParseProtectedResource(b []byte) (*ProtectedResource, error) {
	var doc ProtectedResource
	if err := decodeObject(b, &doc); err != nil {
		return nil, fmt.Errorf("metadata: protected resource metadata: %w", err)
	}
	if doc.Resource == "" {
		return nil, fmt.Errorf("metadata: protected resource metadata has no \"resource\"")
	}
	if u, err := url.Parse(doc.Resource); err != nil || !u.IsAbs() || u.Fragment != "" {
		return nil, fmt.Errorf("metadata: protected resource metadata: \"resource\" %q is not an absolute URL without a fragment", doc.Resource)
	}
	return &doc, nil
}

// decodeObject decodes a JSON object into v, refusing other JSON values and
// trailing data.
func decodeObject(b []byte, v any) error {
	trimmed := strings.TrimLeft(string(b), " \t\r\n")
	if !strings.HasPrefix(trimmed, "{") {
		return fmt.Errorf("expected a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}
