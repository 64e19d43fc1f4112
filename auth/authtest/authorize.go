package authtest

import (
	"net/http"
	"time"

	"github.com/mcpauth/mcpauth/internal/oauthas"
)

// Bounds of the default in-memory store, and the lifetimes of codes and
// refresh tokens.
const (
	codeTTL        = time.Minute
	refreshTTL     = 24 * time.Hour
	maxStored      = 200_000 // codes, refresh tokens and their markers, clients
	maxStoredBytes = 256 << 20
)

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
// POST carries the consent decision), on the shared core.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	req, ok := s.core.ParseAuthorize(w, r)
	if !ok {
		return
	}
	if !s.opts.AutoApprove {
		switch {
		case r.Method == http.MethodGet:
			s.showConsent(w, req)
			return
		case r.PostForm.Get("decision") != "approve":
			s.core.Deny(w, r, req, "access_denied", "the user denied the request")
			return
		}
	}
	var extra map[string]string
	if nonce := req.Params.Get("nonce"); nonce != "" { // kept through the consent form, bounded
		extra = map[string]string{"nonce": nonce} // for the ID token of an openid request
	}
	s.core.Approve(w, r, req, s.opts.Subject, extra)
}

func (s *Server) showConsent(w http.ResponseWriter, req *oauthas.Request) {
	c := req.Client
	name, host := oauthas.Consent(req)
	// The redirect URI may be an authorization proxy's, which redirects on to
	// its own client: browsers check form-action on every hop.
	oauthas.SetConsentHeaders(w, req.RedirectURI, "*")
	_ = s.consent.Execute(w, map[string]any{
		"ClientName": name, "ClientID": c.ID, "Kind": c.Kind, "RedirectHost": host, "Subject": s.opts.Subject,
		"Scopes": req.Scopes.Slice(), "Resources": req.Audience, "Params": req.Params,
	})
}
