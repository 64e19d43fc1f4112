// Package oauthas is the authorization-code core shared by the module's
// authorization servers (auth/authtest, and the authorization proxy to
// come): validating an authorization request (client, redirect URI, PKCE
// S256, bounded parameters), issuing single-use codes, and the token
// endpoint (authorization_code with PKCE, refresh_token with rotation and
// reuse detection, client_credentials), with everything kept in a
// store.Store so that replicas share it.
package oauthas

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/randid"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// Bounds on what a request may carry, checked before anything is looked
// up or stored: each parameter at most once (resource at most maxResources
// times), each value and all of them together bounded, so what a pending
// request keeps is at most MaxRequestBytes whatever was sent.
const (
	MaxFormBytes    = 64 << 10
	MaxRequestBytes = 4 << 10
	maxScopeBytes   = 2 << 10
	maxStateBytes   = 1 << 10
	maxURIBytes     = 2 << 10 // client_id (a CIMD URL), redirect_uri, each resource
	maxNonceBytes   = 256
	maxResources    = 8
	// grace keeps a used or expired record a little longer, so that its
	// use is refused as such rather than as unknown.
	grace = time.Minute
)

// Server is the core of one authorization server. Fill every field but
// the optional ones before use.
type Server struct {
	Issuer   string
	Store    store.Store
	Resolver *registration.Resolver
	// GrantScopes decides what a request for scope grants (or refuses it).
	GrantScopes func(requested string) (scopes.Set, error)
	// Audience decides the audience of a request's resource parameters.
	Audience func(resources []string) ([]string, error)
	// Mint signs an access token for g and says how long it lives.
	Mint func(g Grant) (token string, ttl time.Duration)
	// IDToken, when set, signs an OpenID Connect ID token for a grant whose
	// scope includes openid (its nonce is Extra["nonce"]).
	IDToken func(g Grant) string
	// RefreshWithoutOfflineAccess issues refresh tokens to every
	// authorization code grant (see auth/authtest.Options).
	RefreshWithoutOfflineAccess bool
	// CodeTTL and RefreshTTL: zero means 1 minute and 24 hours.
	CodeTTL, RefreshTTL time.Duration
	// Realm is the realm of the Basic challenge of a failed client authentication.
	Realm string
	// Grants are extension grants (RFC 6749 §4.5) by grant_type: the
	// proxy's JWT-bearer grant of enterprise ID-JAGs, authtest's token
	// exchange.
	Grants map[string]GrantHandler
	// DPoP, when set, accepts DPoP proofs at the token endpoint (RFC 9449
	// §5): the token issued is bound to the proof's key (Grant.DPoPJKT),
	// and so are a public client's refresh tokens.
	DPoP *auth.DPoPVerifier
	// AssertionAudiences are the aud values a private_key_jwt client
	// assertion may carry; empty means the Issuer (with and without a
	// trailing slash) and its token endpoint.
	AssertionAudiences []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// GrantHandler answers an extension grant's token request f of an
// authenticated client that registered the grant, with the request's
// verified DPoP proof (nil for none): the response, built with
// [Server.Issue] for an access token, or a [*TokenError].
type GrantHandler func(ctx context.Context, client *registration.Client, f url.Values, dpop *auth.DPoPProof) (map[string]any, error)

// Grant is who and what a code or refresh token stands for.
type Grant struct {
	ClientID string            `json:"client_id"`
	Subject  string            `json:"subject"`
	Scope    string            `json:"scope"`
	Audience []string          `json:"audience"`
	Extra    map[string]string `json:"extra,omitempty"` // the server's own, e.g. the proxy's upstream grant
	// DPoPJKT is the thumbprint of the key the access token is bound to
	// (cnf.jkt), set from the token request's DPoP proof; never stored.
	DPoPJKT string `json:"-"`
}

// Request is a validated authorization request.
type Request struct {
	Client      *registration.Client
	RedirectURI string
	State       string
	Challenge   string
	Scopes      scopes.Set
	Audience    []string
	// Params are the request's OAuth parameters, to carry through a form.
	Params url.Values
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) codeTTL() time.Duration    { return or(s.CodeTTL, time.Minute) }
func (s *Server) refreshTTL() time.Duration { return or(s.RefreshTTL, 24*time.Hour) }

func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// ParseAuthorize reads and validates the authorization request of r (query
// or form). Errors about the client or its redirect URI are shown, never
// redirected (RFC 6749 §4.1.2.1); the others are redirected to the client.
// ok is false when the response has been written.
func (s *Server) ParseAuthorize(w http.ResponseWriter, r *http.Request) (req *Request, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid_request: malformed parameters", http.StatusBadRequest)
		return nil, false
	}
	q := r.Form
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	return s.ParseValues(w, r, q)
}

// ParseValues is ParseAuthorize for parameters kept from an earlier
// request (a consent form's pending request): they are validated again,
// as the client or its redirect URI may have changed since.
//
// Errors are redirected to the client only when its redirect URI is
// trusted: a pre-registered client's. A self-registered client (DCR, CIMD)
// could otherwise use a malformed request to have this server bounce the
// browser to any URI it registered, with no user action (RFC 9700 §4.11.2,
// the authorization server as open redirector): its errors are shown as a
// page. Once the user has acted (denied, signed in upstream), [Server.Deny]
// redirects for every client.
func (s *Server) ParseValues(w http.ResponseWriter, r *http.Request, q url.Values) (req *Request, ok bool) {
	params, err := boundedParams(q)
	if err != nil {
		ShowError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return nil, false
	}
	client, err := s.Resolver.Client(r.Context(), params.Get("client_id"))
	if errors.Is(err, store.ErrUnavailable) {
		ShowError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the server's store is unavailable; retry later")
		return nil, false
	}
	if err != nil {
		ShowError(w, http.StatusBadRequest, "invalid_client", err.Error())
		return nil, false
	}
	req = &Request{Client: client, RedirectURI: params.Get("redirect_uri"), State: params.Get("state"), Challenge: params.Get("code_challenge"), Params: params}
	if req.RedirectURI == "" && len(client.Metadata.RedirectURIs) == 1 {
		req.RedirectURI = client.Metadata.RedirectURIs[0]
	}
	if err := client.MatchRedirect(req.RedirectURI); err != nil {
		ShowError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return nil, false
	}
	fail := func(code, desc string) (*Request, bool) {
		if client.Kind != registration.KindStatic {
			ShowError(w, http.StatusBadRequest, code, desc)
			return nil, false
		}
		s.Deny(w, r, req, code, desc)
		return nil, false
	}
	switch {
	case params.Get("response_type") != "code":
		return fail("unsupported_response_type", "only response_type=code is supported")
	case !client.AllowsGrant("authorization_code"):
		return fail("unauthorized_client", "the client did not register the authorization_code grant")
	case req.Challenge == "":
		return fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
	case params.Get("code_challenge_method") != "S256":
		return fail("invalid_request", "code_challenge_method must be S256; plain is not accepted")
	case !ValidChallenge(req.Challenge):
		return fail("invalid_request", "an S256 code_challenge is exactly 43 base64url characters")
	}
	if req.Scopes, err = s.GrantScopes(params.Get("scope")); err != nil {
		return fail("invalid_scope", err.Error())
	}
	if req.Audience, err = s.Audience(params["resource"]); err != nil {
		return fail("invalid_target", err.Error())
	}
	return req, true
}

// kept are the parameters an authorization request is made of, with the
// bound of each value; nonce is OpenID Connect's, for an ID token.
var kept = []struct {
	name string
	max  int
}{
	{"response_type", 64}, {"client_id", maxURIBytes}, {"redirect_uri", maxURIBytes}, {"code_challenge", 64},
	{"code_challenge_method", 16}, {"scope", maxScopeBytes}, {"state", maxStateBytes}, {"resource", maxURIBytes}, {"nonce", maxNonceBytes},
}

// boundedParams returns the request's own parameters of q, or an error
// naming the first bound q breaks: a parameter sent twice (RFC 6749 §3.1),
// a value too long, or too much in all. Other parameters are ignored.
func boundedParams(q url.Values) (url.Values, error) {
	out, total := url.Values{}, 0
	for _, p := range kept {
		vs, ok := q[p.name]
		if !ok {
			continue
		}
		limit := 1
		if p.name == "resource" {
			limit = maxResources
		}
		if len(vs) > limit {
			return nil, fmt.Errorf("parameter %s is sent %d times; at most %d is accepted", p.name, len(vs), limit)
		}
		for _, v := range vs {
			if len(v) > p.max {
				return nil, fmt.Errorf("parameter %s is %d bytes; at most %d are accepted", p.name, len(v), p.max)
			}
			total += len(v)
		}
		out[p.name] = vs
	}
	if total > MaxRequestBytes {
		return nil, fmt.Errorf("the request's parameters are %d bytes; at most %d are accepted", total, MaxRequestBytes)
	}
	return out, nil
}

// ShowError answers an error as a page to the user, never as a redirect:
// for requests whose redirect URI is unknown or not trusted.
func ShowError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "10")
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, code+": "+desc, status)
}

// Deny redirects an error to the client, with its state and the issuer
// (RFC 9207).
func (s *Server) Deny(w http.ResponseWriter, r *http.Request, req *Request, code, desc string) {
	v := url.Values{"error": {code}, "error_description": {desc}, "iss": {s.Issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	http.Redirect(w, r, withQuery(req.RedirectURI, v), http.StatusFound)
}

// codeRecord is a pending code, as stored.
type codeRecord struct {
	Grant
	RedirectURI string    `json:"redirect_uri"`
	Challenge   string    `json:"challenge"`
	Expires     time.Time `json:"expires"`
}

// Approve issues a single-use code for req to subject and redirects to the
// client with it, its state and the issuer.
func (s *Server) Approve(w http.ResponseWriter, r *http.Request, req *Request, subject string, extra map[string]string) {
	code := randid.New(24)
	granted := req.Scopes
	if (granted.Contains(scopes.OfflineAccess) || s.RefreshWithoutOfflineAccess) && req.Client.AllowsGrant("refresh_token") {
		code += refreshSuffix // its redemption stores the refresh token in the same step
	}
	b, _ := json.Marshal(codeRecord{
		Grant:       Grant{ClientID: req.Client.ID, Subject: subject, Scope: req.Scopes.String(), Audience: req.Audience, Extra: extra},
		RedirectURI: req.RedirectURI, Challenge: req.Challenge, Expires: s.now().Add(s.codeTTL()),
	})
	if err := s.Store.Add(r.Context(), "code:"+code, b, s.codeTTL()+grace); err != nil {
		s.Deny(w, r, req, "temporarily_unavailable", "the authorization code cannot be stored; retry in a minute")
		return
	}
	s.Resolver.Used(r.Context(), req.Client)
	v := url.Values{"code": {code}, "iss": {s.Issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	http.Redirect(w, r, withQuery(req.RedirectURI, v), http.StatusFound)
}

// ValidChallenge reports whether c is an S256 code challenge: the unpadded
// base64url of 32 bytes.
func ValidChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for i := 0; i < len(c); i++ {
		switch ch := c[i]; {
		case 'A' <= ch && ch <= 'Z', 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '-', ch == '_':
		default:
			return false
		}
	}
	return true
}

// S256 is the PKCE S256 transform of a code verifier.
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Origin is scheme://host of an absolute URL, for a CSP source list; ""
// for anything else (a custom scheme gives "scheme:").
func Origin(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "":
		return ""
	case u.Host == "":
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}

// Consent is what a consent page shows of req: the client's name (its id
// when it has none) and the host its answer goes to. SetConsentHeaders
// writes the headers of such a page.
func Consent(req *Request) (clientName, redirectHost string) {
	clientName, redirectHost = req.Client.Metadata.ClientName, req.RedirectURI
	if clientName == "" {
		clientName = req.Client.ID
	}
	if u, err := url.Parse(req.RedirectURI); err == nil {
		redirectHost = u.Host
	}
	return clientName, redirectHost
}

// SetConsentHeaders writes the headers of a consent page: HTML, never
// cached or framed, and a CSP whose form-action allows the page's own
// origin and formTargets. Browsers check form-action on every redirect
// that follows the post, so formTargets are the origins the answer is
// redirected to (the client's redirect URI, an upstream sign-in); "*"
// allows any http(s) hop, for a page whose answer goes on to places it
// cannot know (a development server behind an authorization proxy, which
// redirects on to its own client).
func SetConsentHeaders(w http.ResponseWriter, formTargets ...string) {
	action := "'self'"
	for _, t := range formTargets {
		if t == "*" {
			action += " *"
		} else if o := Origin(t); o != "" {
			action += " " + o
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+action+"; frame-ancestors 'none'")
}

// withQuery appends v to base's query.
func withQuery(base string, v url.Values) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + v.Encode()
}
