package authtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// Bounds on what the server keeps: every field is bounded before it is
// stored, and every record expires.
const (
	codeTTL        = time.Minute
	refreshTTL     = 24 * time.Hour
	maxStored      = 200_000 // codes, refresh tokens and their markers, clients, in the default store
	maxStoredBytes = 256 << 20
	maxFormBytes   = 64 << 10
	maxScopeBytes  = 4 << 10
	maxStateBytes  = 2 << 10
	maxResources   = 8
)

// validChallenge reports whether c is an S256 code challenge: the
// unpadded base64url of 32 bytes.
func validChallenge(c string) bool {
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

// grace keeps an expired record a little longer, so that its use is
// refused as expired rather than unknown.
const grace = time.Minute

const consentPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Authorize {{.ClientName}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}code{background:#eee;padding:0 .2rem}</style></head>
<body>
<h1>Authorize {{.ClientName}}?</h1>
<p>mcpauth development authorization server (not for production).</p>
<p>Client <code>{{.ClientID}}</code> ({{.Kind}}) will be redirected to <code>{{.RedirectHost}}</code>.</p>
<p>Subject: <code>{{.Subject}}</code></p>
<p>Scopes:{{range .Scopes}} <code>{{.}}</code>{{else}} none{{end}}</p>
<p>Resource:{{range .Resources}} <code>{{.}}</code>{{end}}</p>
<form method="post" action="/authorize">
{{range $k, $vs := .Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button>
</form></body></html>`

// authorize is the authorization endpoint (GET shows consent or approves;
// POST carries the consent decision). Errors about the client or its
// redirect URI are shown, never redirected (RFC 6749 §4.1.2.1).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid_request: malformed parameters", http.StatusBadRequest)
		return
	}
	q := r.Form
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	client, err := s.resolver.Client(r.Context(), q.Get("client_id"))
	if errors.Is(err, store.ErrUnavailable) {
		http.Error(w, "temporarily_unavailable: the server's store is unavailable; retry later", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		http.Error(w, "invalid_client: "+err.Error(), http.StatusBadRequest)
		return
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" && len(client.Metadata.RedirectURIs) == 1 {
		redirectURI = client.Metadata.RedirectURIs[0]
	}
	if err := client.MatchRedirect(redirectURI); err != nil {
		http.Error(w, "invalid_request: "+err.Error(), http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		v := url.Values{"error": {code}, "error_description": {desc}, "iss": {s.URL}}
		if state != "" {
			v.Set("state", state)
		}
		http.Redirect(w, r, withQuery(redirectURI, v), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	case !client.AllowsGrant("authorization_code"):
		fail("unauthorized_client", "the client did not register the authorization_code grant")
		return
	case q.Get("code_challenge") == "":
		fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
		return
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "code_challenge_method must be S256; plain is not accepted")
		return
	case !validChallenge(q.Get("code_challenge")):
		fail("invalid_request", "an S256 code_challenge is exactly 43 base64url characters")
		return
	case len(q.Get("scope")) > maxScopeBytes || len(q["resource"]) > maxResources || len(state) > maxStateBytes:
		fail("invalid_request", fmt.Sprintf("scope is limited to %d bytes, resource to %d values, state to %d bytes", maxScopeBytes, maxResources, maxStateBytes))
		return
	}
	granted, err := s.grantScopes(q.Get("scope"))
	if err != nil {
		fail("invalid_scope", err.Error())
		return
	}
	aud, err := s.audience(q["resource"])
	if err != nil {
		fail("invalid_target", err.Error())
		return
	}
	if !s.opts.AutoApprove {
		switch {
		case r.Method == http.MethodGet:
			s.showConsent(w, client, redirectURI, granted, aud, q)
			return
		case q.Get("decision") != "approve":
			fail("access_denied", "the user denied the request")
			return
		}
	}
	code := randomString(24)
	b, _ := json.Marshal(grant{ClientID: client.ID, RedirectURI: redirectURI, Challenge: q.Get("code_challenge"),
		Subject: s.opts.Subject, Scope: granted.String(), Audience: aud, Expires: s.opts.Now().Add(codeTTL)})
	if err := s.store.Add(r.Context(), "code:"+code, b, codeTTL+grace); err != nil {
		fail("temporarily_unavailable", "the authorization code cannot be stored; retry in a minute")
		return
	}
	v := url.Values{"code": {code}, "iss": {s.URL}}
	if state != "" {
		v.Set("state", state)
	}
	http.Redirect(w, r, withQuery(redirectURI, v), http.StatusFound)
}

func (s *Server) showConsent(w http.ResponseWriter, c *registration.Client, redirectURI string, granted scopes.Set, aud []string, q url.Values) {
	params := url.Values{}
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "code_challenge", "code_challenge_method", "scope", "state", "resource"} {
		if vs, ok := q[k]; ok {
			params[k] = vs
		}
	}
	host := redirectURI
	if u, err := url.Parse(redirectURI); err == nil {
		host = u.Host
	}
	name := c.Metadata.ClientName
	if name == "" {
		name = c.ID
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	_ = s.consent.Execute(w, map[string]any{
		"ClientName": name, "ClientID": c.ID, "Kind": c.Kind, "RedirectHost": host, "Subject": s.opts.Subject,
		"Scopes": granted.Slice(), "Resources": aud, "Params": params,
	})
}

func withQuery(base string, v url.Values) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + v.Encode()
}
