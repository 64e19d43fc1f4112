package proxy_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
)

// world is an MCP notes server whose authorization server is the proxy, in
// front of an upstream (auth/authtest) that has neither DCR nor CIMD and
// knows only the proxy's own client.
type world struct {
	upstream *authtest.Server
	proxy    *proxy.Proxy
	asURL    string // the proxy's issuer
	mcpURL   string
	ran      atomic.Int64
	skew     atomic.Int64 // how far the proxy's clock is ahead
}

func newWorld(t *testing.T, autoApprove bool) *world {
	t.Helper()
	return newWorldWith(t, autoApprove, nil)
}

// newWorldWith is newWorld with the proxy's configuration changed by mutate.
func newWorldWith(t *testing.T, autoApprove bool, mutate func(*proxy.Config)) *world {
	t.Helper()
	return newWorldAuth(t, autoApprove, mutate, nil)
}

// newWorldAuth is newWorldWith with the MCP server's auth.Config changed by
// mutateAuth too.
func newWorldAuth(t *testing.T, autoApprove bool, mutate func(*proxy.Config), mutateAuth func(*auth.Config)) *world {
	t.Helper()
	w := &world{}
	asLn, _ := net.Listen("tcp", "127.0.0.1:0")
	w.asURL = "http://" + asLn.Addr().String()
	w.upstream = authtest.Start(authtest.Options{AutoApprove: true, DisableDCR: true, Subject: "upstream-alice", KeyAlgorithm: "ES256",
		DefaultAudience: upstreamAPI, // the upstream's own API: what its tokens are for
		Clients: []*registration.Client{registration.Static("proxy-upstream-client", "proxy-upstream-secret",
			registration.Metadata{RedirectURIs: []string{w.asURL + "/callback"}, GrantTypes: []string{"authorization_code"}}, registration.RedirectPolicy{})}})
	t.Cleanup(w.upstream.Close)

	mux := http.NewServeMux()
	mcpSrv := httptest.NewServer(mux)
	t.Cleanup(mcpSrv.Close)
	w.mcpURL = mcpSrv.URL + "/mcp"
	loopback := registration.RedirectPolicy{AllowLocalhost: true}
	cfg := proxy.Config{
		Issuer: w.asURL, Resource: w.mcpURL, AutoApprove: autoApprove, Now: func() time.Time { return time.Now().Add(time.Duration(w.skew.Load())) },
		Upstream:        proxy.Upstream{Issuer: w.upstream.URL, ClientID: "proxy-upstream-client", ClientSecret: "proxy-upstream-secret"},
		Clients:         []*registration.Client{registration.Static("quickstart-client", "quickstart-secret", registration.Metadata{RedirectURIs: []string{"http://127.0.0.1/callback"}, GrantTypes: []string{"authorization_code", "refresh_token"}}, loopback)},
		DCR:             &registration.Policy{Redirects: loopback},
		ScopesSupported: []string{"notes:read", "notes:write"},
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := proxy.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.proxy = p
	asSrv := &http.Server{Handler: p}
	go asSrv.Serve(asLn)
	t.Cleanup(func() { asSrv.Close() })

	acfg := auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: w.asURL}}}, Resource: w.mcpURL, BaselineScopes: []string{"notes:read"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutateAuth != nil {
		mutateAuth(&acfg)
	}
	a, err := auth.New(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	s := server.NewMCPServer("notes", "1", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t := auth.TokenFromContext(ctx)
		up, err := p.UpstreamToken(ctx, t)
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		// The upstream token is the upstream's, for the upstream's API.
		ut, err := w.upstreamVerifier(ctx, up.AccessToken)
		if err != nil {
			return mcp.NewToolResultError("upstream token: " + err.Error()), nil
		}
		return mcp.NewToolResultText(t.Subject + " " + t.Issuer + " upstream:" + ut), nil
	})
	s.AddTool(mcp.NewTool("subject"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t := auth.TokenFromContext(ctx)
		return mcp.NewToolResultText(t.Subject + " " + t.ClientID + " " + t.Scopes.String()), nil
	})
	s.AddTool(mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write")), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		w.ran.Add(1)
		return mcp.NewToolResultText("added"), nil
	})
	mux.Handle("/", mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s, mcpgo.TransportOptions(a)...)))
	return w
}

const upstreamAPI = "https://upstream-api.example"

// upstreamVerifier checks that a token is a valid token of the upstream,
// for its API, and returns its issuer.
func (w *world) upstreamVerifier(ctx context.Context, raw string) (string, error) {
	v, err := auth.NewVerifier(ctx, auth.VerifierConfig{Audiences: []string{upstreamAPI}, Issuers: []auth.Issuer{{URL: w.upstream.URL}}})
	if err != nil {
		return "", err
	}
	defer v.Close()
	t, err := v.Verify(ctx, raw)
	if err != nil {
		return "", err
	}
	return t.Issuer, nil
}

// The go-sdk client registers itself at the proxy (DCR; the upstream has
// none), signs in upstream through it, calls whoami with the proxy's
// token (its upstream token reachable through the accessor), and steps up
// to notes:write through the proxy.
func TestGoSDKClientThroughProxy(t *testing.T) {
	w := newWorld(t, true)
	const redirect = "http://127.0.0.1:33420/callback"
	var authorizations atomic.Int32
	h, err := sdkauth.NewAuthorizationCodeHandler(&sdkauth.AuthorizationCodeHandlerConfig{
		RedirectURL: redirect,
		DynamicClientRegistrationConfig: &sdkauth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "none", ClientName: "go-sdk through the proxy"}},
		AuthorizationCodeFetcher: func(ctx context.Context, args *sdkauth.AuthorizationArgs) (*sdkauth.AuthorizationResult, error) {
			authorizations.Add(1)
			q, err := clienttest.ApproveUntil(args.URL, redirect)
			if err != nil {
				return nil, err
			}
			return &sdkauth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	session, err := sdk.NewClient(&sdk.Implementation{Name: "go-sdk", Version: "1"}, nil).Connect(ctx, &sdk.StreamableClientTransport{Endpoint: w.mcpURL, OAuthHandler: h}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	who, err := clienttest.CallText(ctx, session, "whoami", "")
	if err != nil || who != "upstream-alice "+w.asURL+" upstream:"+w.upstream.URL {
		t.Fatalf("whoami = %q %v", who, err)
	}
	if got, err := clienttest.CallText(ctx, session, "add_note", "x"); err != nil || got != "added" || authorizations.Load() != 2 {
		t.Fatalf("add_note after step-up = %q %v (%d authorizations)", got, err, authorizations.Load())
	}
}

// The proxy's metadata is its own: its issuer, S256 only, DCR and the
// RFC 9207 iss parameter.
func TestProxyMetadata(t *testing.T) {
	w := newWorld(t, true)
	resp, err := http.Get(w.asURL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	if m["issuer"] != w.asURL || m["registration_endpoint"] != w.asURL+"/register" || m["authorization_response_iss_parameter_supported"] != true ||
		len(m["code_challenge_methods_supported"].([]any)) != 1 || m["code_challenge_methods_supported"].([]any)[0] != "S256" {
		t.Fatalf("metadata %v", m)
	}
}

func authParams(w *world, clientID, redirect string) url.Values {
	return clienttest.CodeFlow{Issuer: w.asURL, ClientID: clientID, RedirectURI: redirect, Scope: "notes:read offline_access",
		State: "client-state", Resource: w.mcpURL}.Params()
}

func tokenForm(code, redirect string) url.Values {
	return clienttest.CodeFlow{RedirectURI: redirect}.CodeForm(code)
}

func postToken(t *testing.T, w *world, form url.Values, id, secret string) (int, map[string]any) {
	t.Helper()
	status, out, err := clienttest.CodeFlow{Issuer: w.asURL, ClientID: id, ClientSecret: secret}.Token(form)
	if err != nil {
		t.Fatal(err)
	}
	return status, out
}

// freshCode walks a new authorization through the proxy and the upstream.
func freshCode(t *testing.T, w *world, redirect string) string {
	t.Helper()
	q, err := clienttest.Approve(w.asURL + "/authorize?" + authParams(w, "quickstart-client", redirect).Encode())
	if err != nil {
		t.Fatal(err)
	}
	return q.Get("code")
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// newBrowser is a browser of its own: a cookie jar, redirects not followed.
func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: noRedirect.CheckRedirect}
}

// Replays and mismatches, through the proxy: a redirect URI the client did
// not register is shown, never followed; the upstream's state and the
// proxy's code work once; a code is the client's it was issued to; a
// replayed refresh token revokes its family.
func TestProxyRefusesReplaysAndMismatches(t *testing.T) {
	w := newWorld(t, true)
	const redirect = "http://127.0.0.1:4567/callback"
	resp, err := noRedirect.Get(w.asURL + "/authorize?" + authParams(w, "quickstart-client", "https://evil.example/callback").Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("unregistered redirect URI: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Walk to the upstream's redirect back to the proxy, and replay it.
	browser := newBrowser()
	resp, _ = browser.Get(w.asURL + "/authorize?" + authParams(w, "quickstart-client", redirect).Encode())
	resp.Body.Close()
	resp, _ = browser.Get(resp.Header.Get("Location")) // the upstream approves
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, w.asURL+"/callback") {
		t.Fatalf("upstream redirect %q", callback)
	}
	resp, _ = browser.Get(callback)
	resp.Body.Close()
	back, _ := resp.Location()
	code := back.Query().Get("code")
	if code == "" || back.Query().Get("state") != "client-state" || back.Query().Get("iss") != w.asURL {
		t.Fatalf("redirect to the client: %v", back)
	}
	resp, _ = browser.Get(callback)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("replayed upstream state: %d", resp.StatusCode)
	}
	// A client that does not exist cannot redeem it.
	if status, out := postToken(t, w, tokenForm(code, redirect), "other-client", "x"); status != 401 {
		t.Fatalf("unknown client: %d %v", status, out)
	}
	// Nor can another registered client: and the attempt spends the code.
	other, err := clienttest.Register(w.asURL, `{"redirect_uris":["`+redirect+`"],"token_endpoint_auth_method":"none"}`)
	if err != nil {
		t.Fatal(err)
	}
	stolen := tokenForm(code, redirect)
	stolen.Set("client_id", other)
	resp, _ = http.PostForm(w.asURL+"/token", stolen)
	var stolenOut map[string]any
	json.NewDecoder(resp.Body).Decode(&stolenOut)
	resp.Body.Close()
	if resp.StatusCode != 400 || stolenOut["error"] != "invalid_grant" {
		t.Fatalf("a code redeemed by another client: %d %v", resp.StatusCode, stolenOut)
	}
	// A fresh code for the rightful client; its response carries only the
	// proxy's tokens, never the upstream's.
	code = freshCode(t, w, redirect)
	status, out := postToken(t, w, tokenForm(code, redirect), "quickstart-client", "quickstart-secret")
	if status != 200 || out["refresh_token"] == nil {
		t.Fatalf("redemption: %d %v", status, out)
	}
	for k := range out {
		if !slices.Contains([]string{"access_token", "token_type", "expires_in", "scope", "refresh_token"}, k) {
			t.Fatalf("the token response carries %q: %v", k, out)
		}
	}
	if status, out := postToken(t, w, tokenForm(code, redirect), "quickstart-client", "quickstart-secret"); status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("replayed code: %d %v", status, out)
	}
	old := out["refresh_token"].(string)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}
	status, out = postToken(t, w, refresh, "quickstart-client", "quickstart-secret")
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, out)
	}
	w.skew.Store(int64(oauthas.RefreshRaceGrace + time.Second)) // past a race: a replay
	if status, _ := postToken(t, w, refresh, "quickstart-client", "quickstart-secret"); status != 400 {
		t.Fatalf("replayed refresh token: %d", status)
	}
	if status, _ := postToken(t, w, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}}, "quickstart-client", "quickstart-secret"); status != 400 {
		t.Fatalf("the family survived a replay: %d", status)
	}
}

// Consent: a client the browser has not approved gets the consent page,
// never a silent trip upstream; a form posted without this browser's CSRF
// binding is refused; an approval is remembered for that client and
// redirect URI only; a denial reaches the client as access_denied.
func TestConsent(t *testing.T) {
	w := newWorld(t, false)
	const redirect = "http://127.0.0.1:4567/callback"
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := func(redirect string) (int, string) {
		resp, err := browser.Get(w.asURL + "/authorize?" + authParams(w, "quickstart-client", redirect).Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	field := func(body, name string) string {
		i := strings.Index(body, `name="`+name+`" value="`)
		if i < 0 {
			t.Fatalf("no %s in %s", name, body)
		}
		rest := body[i+len(`name="`+name+`" value="`):]
		return rest[:strings.IndexByte(rest, '"')]
	}
	status, body := page(redirect)
	if status != 200 || !strings.Contains(body, "Allow") || !strings.Contains(body, "127.0.0.1:4567") {
		t.Fatalf("consent page: %d %s", status, body)
	}
	tx, csrf := field(body, "tx"), field(body, "csrf")

	// A forged post from another browser (no binding cookie) is refused.
	resp, _ := noRedirect.PostForm(w.asURL+"/consent", url.Values{"tx": {tx}, "csrf": {csrf}, "decision": {"approve"}})
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("forged consent: %d", resp.StatusCode)
	}
	// The user approves: off upstream, and the approval is remembered.
	resp, err := browser.PostForm(w.asURL+"/consent", url.Values{"tx": {tx}, "csrf": {csrf}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, w.upstream.URL+"/authorize") {
		t.Fatalf("approval: %d %s", resp.StatusCode, loc)
	}
	// The browser signs in upstream and comes back through the proxy, which
	// now knows the user, to the client.
	for loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, redirect); loc = resp.Header.Get("Location") {
		if resp, err = browser.Get(loc); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, _ = browser.Get(w.asURL + "/authorize?" + authParams(w, "quickstart-client", redirect).Encode())
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, w.upstream.URL+"/authorize") {
		t.Fatalf("remembered consent: %d %s", resp.StatusCode, loc)
	}
	// Another browser (no user cookie) is asked, though the user is the same upstream.
	jar2, _ := cookiejar.New(nil)
	other := &http.Client{Jar: jar2, CheckRedirect: browser.CheckRedirect}
	resp, _ = other.Get(w.asURL + "/authorize?" + authParams(w, "quickstart-client", redirect).Encode())
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a browser without the approval skipped consent: %d", resp.StatusCode)
	}
	// Another redirect URI of the same client asks again; a denial reaches the client.
	status, body = page("http://127.0.0.1:9999/callback")
	if status != 200 {
		t.Fatalf("a new redirect URI skipped consent: %d", status)
	}
	resp, _ = browser.PostForm(w.asURL+"/consent", url.Values{"tx": {field(body, "tx")}, "csrf": {field(body, "csrf")}, "decision": {"deny"}})
	resp.Body.Close()
	loc, _ := resp.Location()
	if loc == nil || loc.Query().Get("error") != "access_denied" || loc.Host != "127.0.0.1:9999" || loc.Query().Get("iss") != w.asURL {
		t.Fatalf("denial: %d %v", resp.StatusCode, loc)
	}
	if w.ran.Load() != 0 {
		t.Fatal("a tool ran")
	}
}

// A plain OAuth 2.0 upstream (GitHub-style: no ID token; the user is the
// numeric id of its user info): the proxy names the user by it.
func TestOAuth2UpstreamWithUserInfo(t *testing.T) {
	asLn, _ := net.Listen("tcp", "127.0.0.1:0")
	asURL := "http://" + asLn.Addr().String()
	up := authtest.Start(authtest.Options{AutoApprove: true, DisableDCR: true, Subject: "octocat", DefaultAudience: upstreamAPI,
		Clients: []*registration.Client{registration.Static("gh-client", "gh-secret",
			registration.Metadata{RedirectURIs: []string{asURL + "/callback"}, GrantTypes: []string{"authorization_code"}}, registration.RedirectPolicy{})}})
	defer up.Close()
	const resource = "https://mcp.example.com/mcp"
	p, err := proxy.New(context.Background(), proxy.Config{Issuer: asURL, Resource: resource, AutoApprove: true, ScopesSupported: []string{"notes:read"},
		Upstream: proxy.Upstream{AuthURL: up.URL + "/authorize", TokenURL: up.URL + "/token", UserInfoURL: up.URL + "/userinfo", SubjectField: "id",
			ClientID: "gh-client", ClientSecret: "gh-secret", Scopes: []string{"read:user"}},
		Clients: []*registration.Client{registration.Static("c", "s", registration.Metadata{RedirectURIs: []string{"http://127.0.0.1/callback"}}, registration.RedirectPolicy{})},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(asLn)
	defer srv.Close()
	_, out, err := clienttest.CodeFlow{Issuer: asURL, ClientID: "c", ClientSecret: "s", RedirectURI: "http://127.0.0.1:5/callback", Scope: "notes:read", Resource: resource}.Run()
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Audiences: []string{resource}, Issuers: []auth.Issuer{{URL: asURL}}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tok, err := v.Verify(context.Background(), out["access_token"].(string))
	if err != nil || tok.Subject == "" || tok.Subject == "octocat" || strings.Trim(tok.Subject, "0123456789") != "" {
		t.Fatalf("the proxy's token: %+v %v (want the numeric user id as subject)", tok, err)
	}
	if _, err := p.UpstreamToken(context.Background(), tok); err != nil {
		t.Fatalf("upstream token: %v", err)
	}
}

func httptestRecorder(h http.Handler, path string) []byte {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Body.Bytes()
}

// MapScopes decides what a signed-in user gets of what the client asked
// for, from who they are upstream: never more than was asked.
func TestMapScopes(t *testing.T) {
	asLn, _ := net.Listen("tcp", "127.0.0.1:0")
	asURL := "http://" + asLn.Addr().String()
	up := authtest.Start(authtest.Options{AutoApprove: true, DisableDCR: true, Subject: "reader-only", DefaultAudience: upstreamAPI, KeyAlgorithm: "ES256",
		Clients: []*registration.Client{registration.Static("pc", "ps", registration.Metadata{RedirectURIs: []string{asURL + "/callback"}, GrantTypes: []string{"authorization_code"}}, registration.RedirectPolicy{})}})
	defer up.Close()
	const resource = "https://mcp.example.com/mcp"
	p, err := proxy.New(context.Background(), proxy.Config{Issuer: asURL, Resource: resource, AutoApprove: true, ScopesSupported: []string{"notes:read", "notes:write", "admin"},
		Upstream: proxy.Upstream{Issuer: up.URL, ClientID: "pc", ClientSecret: "ps"},
		Clients:  []*registration.Client{registration.Static("c", "s", registration.Metadata{RedirectURIs: []string{"http://127.0.0.1/callback"}}, registration.RedirectPolicy{})},
		MapScopes: func(id proxy.Identity, requested scopes.Set) scopes.Set {
			if id.Subject == "reader-only" {
				return scopes.New("notes:read", "admin-never-asked")
			}
			return requested
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := &http.Server{Handler: p}
	go srv.Serve(asLn)
	defer srv.Close()
	_, out, err := clienttest.CodeFlow{Issuer: asURL, ClientID: "c", ClientSecret: "s", RedirectURI: "http://127.0.0.1:5/callback", Scope: "notes:read notes:write", Resource: resource}.Run()
	if err != nil {
		t.Fatal(err)
	}
	if out["scope"] != "notes:read" {
		t.Fatalf("granted %v, want notes:read only", out["scope"])
	}
}

// The proxy refuses a configuration that would put tokens at risk.
func TestConfigRefused(t *testing.T) {
	up := authtest.Start(authtest.Options{KeyAlgorithm: "ES256"})
	defer up.Close()
	good := proxy.Config{Issuer: "https://auth.example.com", Resource: "https://mcp.example.com/mcp", Upstream: proxy.Upstream{Issuer: up.URL, ClientID: "x"}}
	for name, mutate := range map[string]func(*proxy.Config){
		"plain http issuer off loopback": func(c *proxy.Config) { c.Issuer = "http://auth.example.com" },
		"issuer with a query":            func(c *proxy.Config) { c.Issuer = "https://auth.example.com/?tenant=1" },
		"relative resource":              func(c *proxy.Config) { c.Resource = "/mcp" },
		"resource with a fragment":       func(c *proxy.Config) { c.Resource = "https://mcp.example.com/mcp#x" },
		"short consent key":              func(c *proxy.Config) { c.ConsentKey = []byte("short") },
		"no upstream client":             func(c *proxy.Config) { c.Upstream.ClientID = "" },
		"no upstream at all":             func(c *proxy.Config) { c.Upstream = proxy.Upstream{ClientID: "x"} },
	} {
		cfg := good
		mutate(&cfg)
		if p, err := proxy.New(context.Background(), cfg); err == nil {
			p.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	p, err := proxy.New(context.Background(), good)
	if err != nil {
		t.Fatalf("the good configuration: %v", err)
	}
	p.Close()
}
