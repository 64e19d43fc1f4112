package browser

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
)

// world is the proxy (consent on) in front of an auto-approving upstream,
// and an MCP client's redirect endpoint that records what reaches it.
type world struct {
	asURL, clientURL string
	mu               sync.Mutex
	received         []url.Values
}

func newWorld(t *testing.T) *world { return newWorldWith(t, false) }

// newWorldWith is newWorld; with upstreamConsent, the upstream shows its
// own consent page too, as examples/proxy's development upstream does.
func newWorldWith(t *testing.T, upstreamConsent bool) *world {
	w := &world{}
	client := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" { // the browser also asks for /favicon.ico
			http.NotFound(rw, r)
			return
		}
		w.mu.Lock()
		w.received = append(w.received, r.URL.Query())
		w.mu.Unlock()
		io.WriteString(rw, "<html><body id=done>back at the client</body></html>")
	}))
	t.Cleanup(client.Close)
	w.clientURL = client.URL + "/callback"
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	w.asURL = "http://" + ln.Addr().String()
	up := authtest.Start(authtest.Options{AutoApprove: !upstreamConsent, DisableDCR: true, DefaultAudience: "https://upstream-api.example",
		Clients: []*registration.Client{registration.Static("proxy-upstream-client", "proxy-upstream-secret",
			registration.Metadata{RedirectURIs: []string{w.asURL + "/callback"}, GrantTypes: []string{"authorization_code"}}, registration.RedirectPolicy{})}})
	t.Cleanup(up.Close)
	p, err := proxy.New(context.Background(), proxy.Config{Issuer: w.asURL, Resource: "https://mcp.example.com/mcp", ScopesSupported: []string{"notes:read"},
		Upstream: proxy.Upstream{Issuer: up.URL, ClientID: "proxy-upstream-client", ClientSecret: "proxy-upstream-secret"},
		Clients: []*registration.Client{registration.Static("mcp-client", "", registration.Metadata{ClientName: "Browser Test Client",
			RedirectURIs: []string{w.clientURL}, TokenEndpointAuthMethod: "none"}, registration.RedirectPolicy{})}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return w
}

func (w *world) authorizeURL() string {
	f := clienttest.CodeFlow{Issuer: w.asURL, ClientID: "mcp-client", RedirectURI: w.clientURL, Scope: "notes:read", State: "s1"}
	return f.AuthorizeURL(f.Params())
}

func (w *world) last() url.Values {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.received) == 0 {
		return nil
	}
	return w.received[len(w.received)-1]
}

// browser starts a headless Chromium with its own profile.
func browser(t *testing.T) context.Context {
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil { // start the browser without a deadline
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The user sees the client's name and redirect host, approves, signs in
// upstream and is back at the client with a code; the approval is
// remembered, so the next authorization skips the page.
func TestApproveAndRemember(t *testing.T) {
	w := newWorld(t)
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(w.authorizeURL()), chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`))); err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`body`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[value=approve]`)), chromedp.WaitVisible(chromedp.CSS(`#done`))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page, "Browser Test Client") || !strings.Contains(page, strings.TrimPrefix(strings.Split(w.clientURL, "/callback")[0], "http://")) {
		t.Fatalf("the consent page does not name the client and its redirect host: %q", page)
	}
	if q := w.last(); q.Get("code") == "" || q.Get("state") != "s1" || q.Get("iss") != w.asURL {
		t.Fatalf("the client received %v", q)
	}
	before := len(w.received)
	if err := chromedp.Do(ctx, chromedp.Navigate(w.authorizeURL()), chromedp.WaitVisible(chromedp.CSS(`#done`))); err != nil {
		t.Fatal(err)
	}
	if len(w.received) != before+1 || w.last().Get("code") == "" {
		t.Fatalf("the remembered consent did not go straight back with a code: %v", w.last())
	}
}

// Deny reaches the client as access_denied.
func TestDeny(t *testing.T) {
	w := newWorld(t)
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(w.authorizeURL()),
		chromedp.WaitVisible(chromedp.CSS(`button[value=deny]`)),
		chromedp.Click(chromedp.CSS(`button[value=deny]`)),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	); err != nil {
		t.Fatal(err)
	}
	if q := w.last(); q.Get("error") != "access_denied" || q.Get("code") != "" {
		t.Fatalf("the client received %v", q)
	}
}

// A forged consent: another site's page posts an approval the attacker
// fetched for themselves into the victim's browser. The CSRF token is bound
// to the attacker's browser, so the proxy refuses it, and no code leaves.
func TestForgedConsentPost(t *testing.T) {
	w := newWorld(t)
	// The attacker loads the consent page with their own (cookie-less) client.
	resp, err := http.Get(w.authorizeURL())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, `<html><body><form id=f method=post action="`+w.asURL+`/consent">
<input type=hidden name=tx value="`+field(string(b), "tx")+`"><input type=hidden name=csrf value="`+field(string(b), "csrf")+`">
<input type=hidden name=decision value=approve></form><script>document.getElementById('f').submit()</script></body></html>`)
	}))
	defer evil.Close()
	ctx := browser(t)
	// The victim has visited the proxy before, so their browser has its own binding cookie.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(w.authorizeURL()), chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`)),
		chromedp.Navigate(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)),
		chromedp.Sleep(time.Second),
	); err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`body`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "CSRF") || w.last() != nil {
		t.Fatalf("the forged approval was not refused: %q, client received %v", body, w.last())
	}
}

// Both consent pages, as examples/proxy without -auto-approve shows them:
// the user allows the client at the proxy, approves at the development
// upstream (whose form keeps the request's nonce), and is back at the
// client with a code.
func TestApproveBothPages(t *testing.T) {
	w := newWorldWith(t, true)
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(w.authorizeURL()),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/consent"] button[value=approve]`)),
		chromedp.Click(chromedp.CSS(`form[action="/consent"] button[value=approve]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/authorize"] button[value=approve]`)),
		chromedp.Click(chromedp.CSS(`form[action="/authorize"] button[value=approve]`)),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	); err != nil {
		t.Fatal(err)
	}
	if q := w.last(); q.Get("code") == "" || q.Get("state") != "s1" || q.Get("iss") != w.asURL {
		t.Fatalf("the client received %v", q)
	}
}

// Consent ridden across browsers: the attacker approves the client in
// their own browser and hands the victim the upstream sign-in URL they
// were sent to. The victim's browser, signed in upstream, comes back to
// the proxy, which refuses a sign-in started in another browser: no code
// leaves, and the victim's browser remembers no approval.
func TestSignInURLHandedToAnotherBrowser(t *testing.T) {
	w := newWorld(t)
	jar, _ := cookiejar.New(nil)
	attacker := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := attacker.Get(w.authorizeURL())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, err = attacker.PostForm(w.asURL+"/consent", url.Values{"tx": {field(string(page), "tx")}, "csrf": {field(string(page), "csrf")}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	upstream := resp.Header.Get("Location")
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(upstream), chromedp.WaitVisible(chromedp.CSS(`body`))); err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`body`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "another browser") || w.last() != nil {
		t.Fatalf("the handed-over sign-in was not refused: %q, client received %v", body, w.last())
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.authorizeURL()), chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`))); err != nil {
		t.Fatalf("the victim's browser is not asked for consent afterwards: %v", err)
	}
}

// field is the value of a hidden input on a page.
func field(page, name string) string {
	i := strings.Index(page, `name="`+name+`" value="`)
	if i < 0 {
		return ""
	}
	rest := page[i+len(`name="`+name+`" value="`):]
	return rest[:strings.IndexByte(rest, '"')]
}
