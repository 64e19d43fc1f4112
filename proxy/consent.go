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
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// The consent step. The user approves each MCP client (name, redirect host,
// scopes) before the proxy sends them upstream: without it, a client
// registered by anyone could obtain tokens through a user's existing
// upstream session (the confused deputy of the MCP security best
// practices). The flow is bound to the browser end to end (RFC 9700
// §4.7): the consent form carries a CSRF token bound to a per-browser
// cookie, the pending upstream sign-in records that browser and the
// callback refuses any other, so neither a consent nor a sign-in can be
// completed in a browser other than the one that started it.
//
// An approval is remembered per (user, client, redirect URI, scopes), in
// signed cookies of the browser that gave it, and only once the upstream
// sign-in that followed the decision in that browser named the user. The
// page is skipped only when the browser names that user and the request
// asks for no scope beyond what they approved; asking for more shows the
// page again, listing what is new. A sign-in that skipped the page must
// name the same user upstream, or it is refused.

const consentPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Allow {{.ClientName}}?</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}code{background:#eee;padding:0 .2rem}.new{background:#fe8}</style></head>
<body>
<h1>Allow {{.ClientName}}?</h1>
<p>The MCP client <code>{{.ClientID}}</code> ({{.Kind}}) asks to act for you at <code>{{.Resource}}</code>.</p>
<p>After you sign in, you will be sent back to <code>{{.RedirectHost}}</code>.</p>
{{if .Approved}}<p>You allowed it before: {{range .Approved}} <code>{{.}}</code>{{end}}.</p>
<p id="new-scopes">It now also asks for:{{range .New}} <code class="new">{{.}}</code>{{end}}</p>
{{else}}<p>Scopes:{{range .Scopes}} <code>{{.}}</code>{{else}} none{{end}}</p>{{end}}
<form method="post" action="/consent">
<input type="hidden" name="tx" value="{{.TX}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button name="decision" value="approve">Allow</button>
<button name="decision" value="deny">Deny</button>
</form></body></html>`

// authorize is the authorization endpoint: a validated request goes
// upstream at once if this browser's user approved this client, redirect
// URI and scopes before (or with AutoApprove), else to the consent page.
func (p *Proxy) authorize(w http.ResponseWriter, r *http.Request) {
	req, ok := p.core.ParseAuthorize(w, r)
	if !ok {
		return
	}
	if p.cfg.AutoApprove {
		p.startUpstream(w, r, req, false, "")
		return
	}
	up, ok := p.ready(w)
	if !ok {
		return
	}
	user, approved := p.approvals(r).lookup(p, req)
	if user != "" && approved.ContainsAll(req.Scopes) {
		p.startUpstream(w, r, req, false, user)
		return
	}
	browser := p.browserID(w, r)
	tx := randid.New(16)
	b, _ := json.Marshal(req.Params)
	if err := p.keep(r.Context(), r, "consent:"+tx, b); err != nil {
		refuse(w, err)
		return
	}
	name, host := oauthas.Consent(req)
	oauthas.SetConsentHeaders(w, up.oauth.Endpoint.AuthURL, req.RedirectURI)
	data := map[string]any{"ClientName": name, "ClientID": req.Client.ID, "Kind": req.Client.Kind, "Resource": p.cfg.Resource,
		"RedirectHost": host, "Scopes": req.Scopes.Slice(), "TX": tx, "CSRF": p.mac("csrf", tx, browser)}
	if user != "" && !approved.IsEmpty() {
		data["Approved"], data["New"] = approved.Slice(), req.Scopes.Difference(approved).Slice()
	}
	_ = p.consent.Execute(w, data)
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
	b, err := p.public.Take(r.Context(), "consent:"+tx)
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
	p.startUpstream(w, r, req, true, "") // remembered once the user is known, at the callback
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

// browserID is this browser's random id, the one the CSRF token and every
// pending sign-in are bound to; a browser without one gets one.
func (p *Proxy) browserID(w http.ResponseWriter, r *http.Request) string {
	if id := p.browser(r); id != "" {
		return id
	}
	id := randid.New(16)
	p.setCookie(w, "browser", id, 0)
	return id
}

// browser is this browser's id, or "".
func (p *Proxy) browser(r *http.Request) string {
	if c, err := r.Cookie(p.cookieName("browser")); err == nil && len(c.Value) == 22 {
		return c.Value
	}
	return ""
}

// Bounds of the approvals one browser's cookie holds.
const (
	maxRemembered      = 16
	maxApprovalsCookie = 3000 // bytes of the cookie's value; browsers keep 4 KB a cookie
)

// approvals are the remembered approvals of the user a browser names.
type approvals struct {
	user    string
	Entries []approval `json:"a"`
}

// approval is one remembered approval: a MAC naming (user, client,
// redirect URI), and the scopes approved for it.
type approval struct {
	Key   string `json:"k"`
	Scope string `json:"s"`
}

func (p *Proxy) approvalKey(subject string, req *oauthas.Request) string {
	return p.mac("approval", subject, req.Client.ID, req.RedirectURI)[:22]
}

// signed encodes a value with a MAC under purpose, bound to subject.
func (p *Proxy) signed(purpose, subject string, value []byte) string {
	enc := base64.RawURLEncoding.EncodeToString(value)
	return enc + "." + p.mac(purpose, subject, enc)
}

// opened is the value of signed, or false when its MAC is not right.
func (p *Proxy) opened(purpose, subject, cookie string) ([]byte, bool) {
	enc, sig, ok := strings.Cut(cookie, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(p.mac(purpose, subject, enc))) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	return b, err == nil
}

// approvals reads the user and approvals of r's browser; a cookie whose
// signature does not hold is ignored.
func (p *Proxy) approvals(r *http.Request) approvals {
	var a approvals
	if c, err := r.Cookie(p.cookieName("user")); err == nil {
		if b, ok := p.opened("user", "", c.Value); ok {
			a.user = string(b)
		}
	}
	if c, err := r.Cookie(p.cookieName("consent")); err == nil && a.user != "" {
		if b, ok := p.opened("consent", a.user, c.Value); ok {
			_ = json.Unmarshal(b, &a)
		}
	}
	return a
}

// lookup returns the browser's user and the scopes they approved for the
// request's client and redirect URI (empty when none).
func (a approvals) lookup(p *Proxy, req *oauthas.Request) (string, scopes.Set) {
	if a.user == "" {
		return "", scopes.Set{}
	}
	key := p.approvalKey(a.user, req)
	for _, e := range a.Entries {
		if hmac.Equal([]byte(e.Key), []byte(key)) {
			set, _ := scopes.Parse(e.Scope)
			return a.user, set
		}
	}
	return a.user, scopes.Set{}
}

// signedIn names subject in the browser's user cookie. When the browser
// approved the request on the consent page (approved), the approval of
// these scopes, added to what subject approved for the client and
// redirect URI before, goes first in the consent cookie, which keeps the
// newest that fit. Approvals of another user the browser named are
// dropped.
func (p *Proxy) signedIn(w http.ResponseWriter, r *http.Request, subject string, req *oauthas.Request, approved bool) {
	p.setCookie(w, "user", p.signed("user", "", []byte(subject)), 90*24*3600)
	prev := p.approvals(r)
	if prev.user != subject {
		prev = approvals{user: subject}
		if !approved {
			p.setCookie(w, "consent", "", -1)
		}
	}
	if !approved {
		return
	}
	_, before := prev.lookup(p, req)
	next := approvals{Entries: []approval{{Key: p.approvalKey(subject, req), Scope: before.Union(req.Scopes).String()}}}
	for _, e := range prev.Entries {
		if e.Key == next.Entries[0].Key || len(next.Entries) == maxRemembered {
			continue
		}
		candidate := append(next.Entries[:len(next.Entries):len(next.Entries)], e)
		if b, _ := json.Marshal(approvals{Entries: candidate}); len(p.signed("consent", subject, b)) > maxApprovalsCookie {
			break
		}
		next.Entries = candidate
	}
	b, _ := json.Marshal(next)
	if v := p.signed("consent", subject, b); len(v) <= maxApprovalsCookie {
		p.setCookie(w, "consent", v, 90*24*3600)
	}
}

// forget clears the browser's user and approvals.
func (p *Proxy) forget(w http.ResponseWriter) {
	p.setCookie(w, "user", "", -1)
	p.setCookie(w, "consent", "", -1)
}
