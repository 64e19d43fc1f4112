package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/internal/randid"
	"github.com/mcpauth/mcpauth/store"
)

// The consent step. The user approves each MCP client (name, redirect host,
// scopes) before the proxy sends them upstream: without it, a client
// registered by anyone could obtain tokens through a user's existing
// upstream session (the confused deputy of the MCP security best
// practices). An approval is remembered per (user, client, redirect URI):
// once the user has signed in upstream, the browser holds a signed cookie
// naming them and the approvals they gave, so the page is skipped only for
// that user and that client at that redirect URI. The form carries a CSRF
// token bound to a per-browser cookie, so another site cannot post an
// approval.

const consentPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Allow {{.ClientName}}?</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}code{background:#eee;padding:0 .2rem}</style></head>
<body>
<h1>Allow {{.ClientName}}?</h1>
<p>The MCP client <code>{{.ClientID}}</code> ({{.Kind}}) asks to act for you at <code>{{.Resource}}</code>.</p>
<p>After you sign in, you will be sent back to <code>{{.RedirectHost}}</code>.</p>
<p>Scopes:{{range .Scopes}} <code>{{.}}</code>{{else}} none{{end}}</p>
<form method="post" action="/consent">
<input type="hidden" name="tx" value="{{.TX}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button name="decision" value="approve">Allow</button>
<button name="decision" value="deny">Deny</button>
</form></body></html>`

// authorize is the authorization endpoint: a validated request goes
// upstream at once if the browser approved this client before (or with
// AutoApprove), else to the consent page.
func (p *Proxy) authorize(w http.ResponseWriter, r *http.Request) {
	req, ok := p.core.ParseAuthorize(w, r)
	if !ok {
		return
	}
	if p.cfg.AutoApprove || p.remembered(r, req) {
		p.startUpstream(w, r, req, false)
		return
	}
	browser := p.browserID(w, r)
	tx := randid.New(16)
	b, _ := json.Marshal(req.Params)
	if err := p.store.Add(r.Context(), "consent:"+tx, b, txTTL); err != nil {
		unavailable(w, err)
		return
	}
	name, host := oauthas.Consent(req)
	oauthas.SetConsentHeaders(w, p.upstream.Endpoint.AuthURL, req.RedirectURI)
	_ = p.consent.Execute(w, map[string]any{"ClientName": name, "ClientID": req.Client.ID, "Kind": req.Client.Kind, "Resource": p.cfg.Resource,
		"RedirectHost": host, "Scopes": req.Scopes.Slice(), "TX": tx, "CSRF": p.mac("csrf", tx, browser)})
}

// decide receives the consent form.
func (p *Proxy) decide(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, oauthas.MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid_request: malformed form", http.StatusBadRequest)
		return
	}
	tx := r.PostForm.Get("tx")
	browser, _ := r.Cookie(p.cookieName("browser"))
	if browser == nil || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(p.mac("csrf", tx, browser.Value))) {
		http.Error(w, "forbidden: the consent form was not posted from this browser's consent page (CSRF)", http.StatusForbidden)
		return
	}
	b, err := p.store.Take(r.Context(), "consent:"+tx)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "invalid_request: unknown or already decided consent; start the authorization again", http.StatusBadRequest)
		return
	}
	if err != nil {
		unavailable(w, err)
		return
	}
	var params url.Values
	if err := json.Unmarshal(b, &params); err != nil {
		http.Error(w, "server_error: the pending consent cannot be read", http.StatusInternalServerError)
		return
	}
	req, ok := p.core.ParseValues(w, r, params)
	if !ok {
		return
	}
	if r.PostForm.Get("decision") != "approve" {
		p.core.Deny(w, r, req, "access_denied", "the user denied the request")
		return
	}
	p.startUpstream(w, r, req, true) // remembered once the user is known, at the callback
}

// mac is the HMAC of parts under the consent key, base64url.
func (p *Proxy) mac(parts ...string) string {
	m := hmac.New(sha256.New, p.cfg.ConsentKey)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// cookieName uses the __Host- prefix when the proxy is served over https
// (browsers refuse such cookies without Secure).
func (p *Proxy) cookieName(name string) string {
	if strings.HasPrefix(p.cfg.Issuer, "https://") {
		return "__Host-mcpauth-" + name
	}
	return "mcpauth-" + name
}

func (p *Proxy) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(name), Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: strings.HasPrefix(p.cfg.Issuer, "https://"), SameSite: http.SameSiteLaxMode})
}

// browserID is a random per-browser value the CSRF token is bound to.
func (p *Proxy) browserID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(p.cookieName("browser")); err == nil && len(c.Value) == 22 {
		return c.Value
	}
	id := randid.New(16)
	p.setCookie(w, "browser", id, 0)
	return id
}

// maxRemembered bounds the approvals one browser's cookie holds.
const maxRemembered = 16

// user is the signed-in user this browser's cookie names, or "".
func (p *Proxy) user(r *http.Request) string {
	c, err := r.Cookie(p.cookieName("user"))
	if err != nil {
		return ""
	}
	sub, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(sub)
	if err != nil || !hmac.Equal([]byte(sig), []byte(p.mac("user", string(b)))) {
		return ""
	}
	return string(b)
}

func (p *Proxy) approval(subject string, req *oauthas.Request) string {
	return p.mac("consent", subject, req.Client.ID, req.RedirectURI)[:22]
}

// remembered reports whether the user this browser names approved the
// request's client at its redirect URI.
func (p *Proxy) remembered(r *http.Request, req *oauthas.Request) bool {
	subject := p.user(r)
	c, err := r.Cookie(p.cookieName("consent"))
	if subject == "" || err != nil {
		return false
	}
	want := p.approval(subject, req)
	for _, v := range strings.Split(c.Value, ".") {
		if hmac.Equal([]byte(v), []byte(want)) {
			return true
		}
	}
	return false
}

// signedIn names subject in the browser's user cookie, and when approved
// adds its approval of the request's client and redirect URI to the
// consent cookie, keeping the newest maxRemembered.
func (p *Proxy) signedIn(w http.ResponseWriter, r *http.Request, subject string, req *oauthas.Request, approved bool) {
	p.setCookie(w, "user", base64.RawURLEncoding.EncodeToString([]byte(subject))+"."+p.mac("user", subject), 90*24*3600)
	if !approved {
		return
	}
	entry := p.approval(subject, req)
	list := []string{entry}
	if c, err := r.Cookie(p.cookieName("consent")); err == nil && p.user(r) == subject {
		for _, v := range strings.Split(c.Value, ".") {
			if v != entry && len(v) == 22 && len(list) < maxRemembered {
				list = append(list, v)
			}
		}
	}
	p.setCookie(w, "consent", strings.Join(list, "."), 90*24*3600)
}
