package doctor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/mcpauth/mcpauth/internal/challenge"
	"github.com/mcpauth/mcpauth/internal/nearmiss"
	"github.com/mcpauth/mcpauth/metadata"
	"github.com/mcpauth/mcpauth/scopes"
)

// checkChallenge: an unauthenticated request gets 401 with a well-formed
// Bearer challenge naming an absolute resource_metadata.
func (r *run) checkChallenge() bool {
	resp, _, err := r.post("", initialize, nil)
	if err != nil {
		r.add(Check{Name: "401 challenge", Status: Fail, Expected: "an HTTP response", Seen: err.Error(), Fix: "check the URL and that the server is running"})
		return false
	}
	if resp.StatusCode != http.StatusUnauthorized {
		fix := "protect the MCP endpoint (auth.Authenticator.Protect, mcpgo.Protect or gosdk.Protector.Protect); clients discover authorization only from a 401"
		if _, rootURL, err := metadata.WellKnownURLs(r.mcpURL); err == nil {
			if sibling := r.siblingResource(map[string]*metadata.ProtectedResource{}, rootURL); sibling != "" {
				fix = "the MCP URL is probably " + sibling + ": this origin's metadata names it; connect clients to " + sibling
			}
		}
		r.add(Check{Name: "401 challenge", Status: Fail, Expected: "401 for a request without a token", Seen: fmt.Sprintf("HTTP %d", resp.StatusCode), Fix: fix})
		return false
	}
	values := resp.Header.Values("WWW-Authenticate")
	if len(values) == 0 {
		r.add(Check{Name: "401 challenge", Status: Fail, Expected: "WWW-Authenticate: Bearer resource_metadata=\"...\"", Seen: "a 401 without WWW-Authenticate",
			Fix: "a proxy or middleware dropped the header; let the challenge through (RFC 6750 §3: a 401 names its scheme in WWW-Authenticate)"})
		return false
	}
	p, err := challenge.Parse(values[0])
	if err != nil || len(values) > 1 {
		seen := values[0]
		if err != nil {
			seen += " (" + err.Error() + ")"
		}
		r.add(Check{Name: "challenge well formed", Status: Fail, Expected: "one Bearer challenge, quoted values, no repeated parameter", Seen: seen,
			Fix: "emit the challenge with each auth-param once and every value quoted (RFC 6750 §3)"})
		return false
	}
	r.challenge = p
	r.add(Check{Name: "401 challenge", Status: Pass, Seen: "401 with WWW-Authenticate"})
	rm := p["resource_metadata"]
	u, uerr := url.Parse(rm)
	switch {
	case rm == "":
		r.add(Check{Name: "challenge well formed", Status: Warn, Expected: "resource_metadata in the challenge", Seen: values[0],
			Fix: "add resource_metadata (RFC 9728 §5.1); clients fall back to the well-known URL"})
	case uerr != nil || !u.IsAbs():
		r.add(Check{Name: "challenge well formed", Status: Fail, Expected: "an absolute resource_metadata URL", Seen: rm, Fix: "send the absolute URL of the metadata"})
		return false
	default:
		r.add(Check{Name: "challenge well formed", Status: Pass, Seen: values[0]})
	}
	if p["error"] != "" {
		r.add(Check{Name: "no error without a token", Status: Warn, Expected: "no error parameter for a request without credentials (RFC 6750 §3.1)", Seen: "error=" + p["error"]})
	}
	if p["scope"] == "" {
		r.add(Check{Name: "challenge scope", Status: Warn, Expected: "scope naming what basic use needs", Seen: "no scope parameter", Fix: "set auth.Config.BaselineScopes"})
	}
	return true
}

// checkCORS: browsers can read the challenge, and the preflight is not challenged.
func (r *run) checkCORS() bool {
	resp, _, err := r.post("", initialize, map[string]string{"Origin": "https://inspector.example"})
	if err == nil {
		exposed := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers"))
		if !strings.Contains(exposed, "www-authenticate") && exposed != "*" {
			r.add(Check{Name: "CORS exposes challenge", Status: Warn, Expected: "Access-Control-Expose-Headers: WWW-Authenticate on the 401",
				Seen: fmt.Sprintf("%q", resp.Header.Get("Access-Control-Expose-Headers")), Fix: "expose WWW-Authenticate so browser-based clients can read the challenge"})
		} else {
			r.add(Check{Name: "CORS exposes challenge", Status: Pass})
		}
	}
	// The preflight a browser client sends before a call in a session.
	req, _ := http.NewRequestWithContext(r.ctx, http.MethodOptions, r.mcpURL, nil)
	req.Header.Set("Origin", "https://inspector.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", strings.Join(browserHeaders, ","))
	if resp, err := r.client.Do(req); err == nil {
		resp.Body.Close()
		allowed := strings.ToLower(strings.Join(resp.Header.Values("Access-Control-Allow-Headers"), ","))
		var missing []string
		for _, h := range browserHeaders {
			if allowed != "*" && !slices.Contains(splitList(allowed), h) {
				missing = append(missing, h)
			}
		}
		const fix = "wrap the MCP handler, outermost, with auth.CORS{}.Handler (either SDK)"
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			r.add(Check{Name: "CORS preflight", Status: Fail, Expected: "OPTIONS answered without a token", Seen: "401",
				Fix: "let OPTIONS through before authentication: " + fix})
		case resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Origin") == "":
			r.add(Check{Name: "CORS preflight", Status: Warn, Expected: "a 2xx preflight answer with Access-Control-Allow-Origin",
				Seen: fmt.Sprintf("HTTP %d, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin")),
				Fix:  "browser-based clients cannot connect; " + fix})
		case len(missing) > 0:
			r.add(Check{Name: "CORS preflight", Status: Warn, Expected: "Access-Control-Allow-Headers covering " + strings.Join(browserHeaders, ", "),
				Seen: fmt.Sprintf("%q (missing %s)", resp.Header.Get("Access-Control-Allow-Headers"), strings.Join(missing, ", ")),
				Fix:  "browser-based clients' calls are blocked; " + fix})
		default:
			r.add(Check{Name: "CORS preflight", Status: Pass, Seen: fmt.Sprintf("HTTP %d", resp.StatusCode)})
		}
	}
	return true
}

// browserHeaders are the request headers a browser-based MCP client sends
// on a call within a session, as a preflight lists them.
var browserHeaders = []string{"authorization", "content-type", "mcp-protocol-version", "mcp-session-id"}

// splitList splits a comma-separated header list, trimmed.
func splitList(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func (r *run) fetchPRM(u string) (*metadata.ProtectedResource, []byte, error) {
	b, _, err := metadata.Fetch(r.ctx, r.client, u)
	if err != nil {
		return nil, nil, err
	}
	doc, err := metadata.ParseProtectedResource(b)
	return doc, b, err
}

// siblingResource is the resource another metadata document of this origin
// names (the challenge's, or the root one), when it is not the URL the
// doctor was given: a mistyped MCP URL (/mcp/, /sse) finds none of its own.
func (r *run) siblingResource(docs map[string]*metadata.ProtectedResource, rootURL string) string {
	given, err := url.Parse(r.mcpURL)
	if err != nil {
		return ""
	}
	if docs[rootURL] == nil {
		if doc, _, err := r.fetchPRM(rootURL); err == nil {
			docs[rootURL] = doc
		}
	}
	for _, u := range []string{r.challenge["resource_metadata"], rootURL} {
		doc := docs[u]
		if doc == nil || doc.Resource == r.mcpURL {
			continue
		}
		if res, err := url.Parse(doc.Resource); err == nil && res.Host == given.Host && res.Scheme == given.Scheme {
			return doc.Resource
		}
	}
	return ""
}

// checkMetadata: the metadata from the challenge and at both well-known URLs
// agree, and its resource is the URL the client used.
func (r *run) checkMetadata() bool {
	pathURL, rootURL, err := metadata.WellKnownURLs(r.mcpURL)
	if err != nil {
		r.add(Check{Name: "metadata", Status: Fail, Seen: err.Error()})
		return false
	}
	docs := map[string]*metadata.ProtectedResource{}
	raw := map[string]string{}
	for _, u := range []string{r.challenge["resource_metadata"], pathURL, rootURL} {
		if u == "" || docs[u] != nil || raw[u] != "" {
			continue
		}
		doc, b, err := r.fetchPRM(u)
		if err != nil {
			name, fix := "path-inserted metadata", "serve the metadata at "+pathURL+" (RFC 9728 §3.1: the suffix goes between host and path)"
			status := Fail
			switch u {
			case pathURL:
				if sibling := r.siblingResource(docs, rootURL); sibling != "" {
					fix = "the MCP URL is probably " + sibling + ": its metadata exists, and there is none for " + r.mcpURL + "; connect clients to " + sibling
				}
			case rootURL:
				name, fix, status = "root metadata", "serve the same document at "+rootURL+" too; some clients try only the root", Warn
			default:
				name, fix = "resource_metadata reachable", "make the URL in the challenge serve the metadata"
			}
			r.add(Check{Name: name, Status: status, Expected: "200 with a protected resource metadata document at " + u, Seen: err.Error(), Fix: fix})
			if status == Fail {
				return false
			}
			raw[u] = "missing"
			continue
		}
		docs[u], raw[u] = doc, string(b)
	}
	if doc := docs[r.challenge["resource_metadata"]]; doc != nil {
		r.add(Check{Name: "resource_metadata reachable", Status: Pass, Seen: r.challenge["resource_metadata"]})
	}
	r.prm = docs[pathURL]
	if r.prm == nil {
		r.prm = docs[r.challenge["resource_metadata"]]
	}
	if r.prm == nil {
		r.add(Check{Name: "path-inserted metadata", Status: Fail, Expected: "metadata at " + pathURL, Seen: "none", Fix: "serve it"})
		return false
	}
	r.add(Check{Name: "path-inserted metadata", Status: Pass, Seen: pathURL})
	if root := docs[rootURL]; root != nil && rootURL != pathURL {
		if !sameDoc(root, r.prm) {
			r.add(Check{Name: "root and path metadata agree", Status: Fail, Expected: "the same document at " + pathURL + " and " + rootURL,
				Seen: fmt.Sprintf("resource %q vs %q, authorization_servers %v vs %v", r.prm.Resource, root.Resource, r.prm.AuthorizationServers, root.AuthorizationServers),
				Fix:  "serve one document at both URLs, or clients pick different authorization servers (RFC 9728 §3.1)"})
		} else {
			r.add(Check{Name: "root and path metadata agree", Status: Pass})
		}
	}
	if r.prm.Resource != r.mcpURL {
		c := Check{Name: "resource equals the URL", Status: Fail, Expected: r.mcpURL, Seen: r.prm.Resource,
			Fix: "set the resource to the exact URL clients use (auth.Config.Resource); clients refuse metadata for another resource"}
		switch nearmiss.Audience([]string{r.prm.Resource}, []string{r.mcpURL}) {
		case nearmiss.TrailingSlash:
			c.Fix = "they differ only by a trailing slash; " + c.Fix
		case nearmiss.OriginOnly:
			c.Fix = "the metadata names the origin, not the MCP endpoint; " + c.Fix
		}
		switch {
		case strings.HasPrefix(r.prm.Resource, "http://") && strings.HasPrefix(r.mcpURL, "https://"):
			c.Fix = "an http:// URL leaked from behind a TLS-terminating proxy; take the public URL from configuration; " + c.Fix
		}
		r.add(c)
		return false
	}
	r.add(Check{Name: "resource equals the URL", Status: Pass, Seen: r.prm.Resource})
	if len(r.prm.AuthorizationServers) == 0 {
		r.add(Check{Name: "authorization_servers", Status: Fail, Expected: "at least one issuer", Seen: "none", Fix: "list the authorization server's issuer"})
		return false
	}
	if slices.Contains(r.prm.ScopesSupported, scopes.OfflineAccess) {
		r.add(Check{Name: "scopes_supported", Status: Warn, Seen: "offline_access advertised", Fix: "advertise only the scopes basic use needs"})
	}
	return true
}

func sameDoc(a, b *metadata.ProtectedResource) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// checkAuthorizationServer: discovery in the spec's order finds metadata
// whose issuer equals the advertised identifier; PKCE S256; a way to register.
func (r *run) checkAuthorizationServer() bool {
	issuer := r.prm.AuthorizationServers[0]
	as, err := metadata.Discover(r.ctx, r.client, issuer)
	if err != nil {
		fix := "serve RFC 8414 or OpenID Connect metadata for the issuer at one of the URLs tried, with \"issuer\" equal to " + issuer
		if strings.Contains(err.Error(), "trailing slash") {
			fix = "authorization_servers and the AS issuer differ by a trailing slash; make them byte-for-byte equal (RFC 8414 §3.3)"
		}
		r.add(Check{Name: "authorization server metadata", Status: Fail, Expected: "metadata with issuer " + issuer, Seen: err.Error(), Fix: fix})
		return false
	}
	r.as = as
	r.add(Check{Name: "authorization server metadata", Status: Pass, Seen: as.Issuer})
	if !as.SupportsS256() {
		r.add(Check{Name: "PKCE S256 advertised", Status: Fail, Expected: `code_challenge_methods_supported containing "S256"`, Seen: fmt.Sprintf("%v", as.CodeChallengeMethodsSupported),
			Fix: "advertise S256 in code_challenge_methods_supported; MCP clients refuse to proceed without it (RFC 8414 §2, RFC 7636)"})
	} else {
		r.add(Check{Name: "PKCE S256 advertised", Status: Pass})
	}
	var ways []string
	if as.ClientIDMetadataDocumentSupported {
		ways = append(ways, "CIMD")
	}
	if as.RegistrationEndpoint != "" {
		ways = append(ways, "DCR")
	}
	if len(ways) == 0 {
		r.add(Check{Name: "client registration", Status: Warn, Expected: "Client ID Metadata Documents or Dynamic Client Registration", Seen: "pre-registered clients only",
			Fix: "clients without pre-registered credentials cannot connect; enable CIMD or DCR"})
	} else {
		r.add(Check{Name: "client registration", Status: Pass, Seen: "pre-registered, " + strings.Join(ways, ", ")})
	}
	return true
}

// checkKeys: the key set is reachable and has usable signing keys.
func (r *run) checkKeys() bool {
	if r.as.JWKSURI == "" {
		r.add(Check{Name: "JWKS", Status: Warn, Seen: "no jwks_uri", Fix: "JWT access tokens need a key set; opaque tokens need introspection"})
		return true
	}
	b, _, err := metadata.Fetch(r.ctx, r.client, r.as.JWKSURI)
	if err != nil {
		r.add(Check{Name: "JWKS", Status: Fail, Expected: "a key set at " + r.as.JWKSURI, Seen: err.Error(), Fix: "make the key set reachable from the MCP server"})
		return true
	}
	set, err := jwk.Parse(b)
	if err != nil {
		r.add(Check{Name: "JWKS", Status: Fail, Expected: "a JSON Web Key Set", Seen: err.Error(), Fix: "serve a valid JWKS"})
		return true
	}
	usable := 0
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		if k.KeyUsage() == "enc" {
			continue
		}
		if _, err := jwk.PublicRawKeyOf(k); err == nil && k.KeyType() != "oct" {
			usable++
		}
	}
	if usable == 0 {
		r.add(Check{Name: "JWKS", Status: Fail, Expected: "at least one public signing key", Seen: fmt.Sprintf("%d keys, none usable", set.Len()), Fix: "publish the public signing keys"})
		return true
	}
	r.add(Check{Name: "JWKS", Status: Pass, Seen: fmt.Sprintf("%d usable signing keys", usable)})
	return true
}
