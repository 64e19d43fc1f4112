package proxy_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
)

// logBuffer is a slog handler's output, safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProxy runs a proxy (consent on) in front of an auto-approving
// upstream that signs everyone in as subject, with key as its consent key
// and the upstream client secret given; it returns the proxy's issuer.
func startProxy(t *testing.T, subject string, key []byte, upstreamSecret string, logs *logBuffer) string {
	t.Helper()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	asURL := "http://" + ln.Addr().String()
	up := authtest.Start(authtest.Options{AutoApprove: true, DisableDCR: true, Subject: subject, DefaultAudience: upstreamAPI, KeyAlgorithm: "ES256",
		Clients: []*registration.Client{registration.Static("pc", "ps", registration.Metadata{RedirectURIs: []string{asURL + "/callback"}, GrantTypes: []string{"authorization_code"}}, registration.RedirectPolicy{})}})
	t.Cleanup(up.Close)
	p, err := proxy.New(context.Background(), proxy.Config{Issuer: asURL, Resource: "https://mcp.example.com/mcp", ConsentKey: key,
		ScopesSupported: []string{"notes:read", "notes:write"}, Upstream: proxy.Upstream{Issuer: up.URL, ClientID: "pc", ClientSecret: upstreamSecret},
		Clients: []*registration.Client{registration.Static("c", "", registration.Metadata{RedirectURIs: []string{"http://127.0.0.1/callback"}}, registration.RedirectPolicy{AllowLocalhost: true})},
		Logger:  slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return asURL
}

func params(clientID, scope string) string {
	return "response_type=code&client_id=" + clientID + "&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcallback&scope=" + strings.ReplaceAll(scope, " ", "+") +
		"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=st"
}

// A remembered approval is alice's: when the browser that holds it signs
// in upstream as bob (another account, or someone else at the same
// computer), the sign-in is refused, logged, and the browser forgets
// alice's approvals, so bob is asked. Two proxies share the consent key
// (as replicas do) in front of upstreams that sign in alice and bob; one
// browser's cookies reach both, as a browser's reach one host.
func TestRememberedApprovalIsTheUsersOnly(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	var logs logBuffer
	alice := startProxy(t, "alice", key, "ps", &logs)
	bob := startProxy(t, "bob", key, "ps", &logs)
	b := newBrowser()
	if _, err := clienttest.FollowIn(b, alice+"/authorize?"+params("c", "notes:read"), "http://127.0.0.1:5/callback"); err != nil {
		t.Fatalf("alice signs in: %v", err)
	}
	resp, _ := b.Get(bob + "/authorize?" + params("c", "notes:read"))
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("alice's approval was not remembered: %d", resp.StatusCode)
	}
	_, err := clienttest.FollowIn(b, resp.Header.Get("Location"), "http://127.0.0.1:5/callback")
	if err == nil || !strings.Contains(err.Error(), "access_denied") || !strings.Contains(err.Error(), "another user") {
		t.Fatalf("bob signed in on alice's approval: %v", err)
	}
	if !strings.Contains(logs.String(), "reason=user_mismatch") {
		t.Fatalf("no log record of the refusal: %s", logs.String())
	}
	resp, _ = b.Get(bob + "/authorize?" + params("c", "notes:read"))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the refusal, bob is not asked: %d", resp.StatusCode)
	}
}

// A wrong upstream client secret: the MCP client learns the sign-in
// failed, and the operator's log names the upstream's error.
func TestRefusedSignInIsLogged(t *testing.T) {
	var logs logBuffer
	as := startProxy(t, "alice", nil, "wrong-secret", &logs)
	_, err := clienttest.FollowIn(newBrowser(), as+"/authorize?"+params("c", "notes:read"), "http://127.0.0.1:5/callback")
	if err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("sign-in with a wrong upstream secret: %v", err)
	}
	got := logs.String()
	for _, want := range []string{"reason=upstream_exchange", "upstream_status=401", "upstream_error=invalid_client", "client_id=c"} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %q: %s", want, got)
		}
	}
}

// The upstream rotates its signing key: the next ID token carries a key id
// the proxy has not seen, and its key set is refreshed for it (at most once
// per 10 s, as auth's key sets are) rather than every sign-in failing
// until a restart.
func TestUpstreamKeyRotation(t *testing.T) {
	w := newWorld(t, true)
	const redirect = "http://127.0.0.1:4567/callback"
	if _, err := signIn(w, newBrowser(), authParams(w, "quickstart-client", redirect)); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	if _, err := w.upstream.RotateKey(); err != nil {
		t.Fatal(err)
	}
	w.skew.Store(int64(11 * time.Second)) // past the 10 s between refreshes an unknown key id may cause
	if _, err := signIn(w, newBrowser(), authParams(w, "quickstart-client", redirect)); err != nil {
		t.Fatalf("after the upstream rotated its key: %v", err)
	}
}

// The identity provider is not up when the proxy starts: without
// LazyDiscovery New fails; with it, /authorize answers 503 with
// Retry-After until the provider is reachable, then sends the browser to it.
func TestLazyDiscoveryOfTheUpstream(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	upURL := "http://" + ln.Addr().String()
	ln.Close()
	asLn, _ := net.Listen("tcp", "127.0.0.1:0")
	asURL := "http://" + asLn.Addr().String()
	cfg := proxy.Config{Issuer: asURL, Resource: "https://mcp.example.com/mcp", AutoApprove: true, ScopesSupported: []string{"notes:read"},
		Upstream: proxy.Upstream{Issuer: upURL, ClientID: "pc", ClientSecret: "ps"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clients: []*registration.Client{registration.Static("c", "", registration.Metadata{RedirectURIs: []string{"http://127.0.0.1/callback"}}, registration.RedirectPolicy{AllowLocalhost: true})}}
	if p, err := proxy.New(context.Background(), cfg); err == nil {
		p.Close()
		t.Fatal("New succeeded without the upstream")
	}
	cfg.LazyDiscovery = true
	p, err := proxy.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New with LazyDiscovery: %v", err)
	}
	defer p.Close()
	srv := &http.Server{Handler: p}
	go srv.Serve(asLn)
	defer srv.Close()
	authorize := func() *http.Response {
		resp, err := newBrowser().Get(asURL + "/authorize?" + params("c", "notes:read"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := authorize(); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("before the upstream is up: %d %v", resp.StatusCode, resp.Header)
	}
	up, err := authtest.New(authtest.Options{Issuer: upURL, AutoApprove: true, DisableDCR: true})
	if err != nil {
		t.Fatal(err)
	}
	upLn, err := net.Listen("tcp", upURL[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	upSrv := &http.Server{Handler: up}
	go upSrv.Serve(upLn)
	defer upSrv.Close()
	resp := authorize()
	for deadline := time.Now().Add(10 * time.Second); resp.StatusCode == 503 && time.Now().Before(deadline); resp = authorize() {
		time.Sleep(100 * time.Millisecond)
	}
	if resp.StatusCode != 302 || !strings.HasPrefix(resp.Header.Get("Location"), upURL+"/authorize") {
		t.Fatalf("after the upstream came up: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
