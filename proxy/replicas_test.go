package proxy_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/internal/replicas"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/store"
)

// Two proxy replicas behind one issuer URL share a real Redis (and their
// keys): a client registered on one signs in through the other, the code
// is redeemed once whichever replicas race for it, the tokens verify with
// either's key set, and Redis going away mid-flow is a 503, never a grant.
func TestProxyReplicasShareRedis(t *testing.T) {
	c := replicas.Listen(t)
	issuer, stopRedis := c.URL, c.StopRedis
	up := authtest.Start(authtest.Options{AutoApprove: true, DisableDCR: true, DefaultAudience: upstreamAPI, KeyAlgorithm: "ES256",
		Clients: []*registration.Client{registration.Static("proxy-upstream-client", "proxy-upstream-secret",
			registration.Metadata{RedirectURIs: []string{issuer + "/callback"}, GrantTypes: []string{"authorization_code"}}, registration.RedirectPolicy{})}})
	defer up.Close()
	const resource = "https://mcp.example.com/mcp"
	shared := sharedKeys()
	c.Serve(2, "proxy:", func(s store.Store) http.Handler {
		return newReplica(t, shared(proxy.Config{Issuer: issuer, Resource: resource, AutoApprove: true, ScopesSupported: []string{"notes:read"},
			Upstream: proxy.Upstream{Issuer: up.URL, ClientID: "proxy-upstream-client", ClientSecret: "proxy-upstream-secret"},
			DCR:      &registration.Policy{Redirects: registration.RedirectPolicy{AllowLocalhost: true}}, Store: s}))
	})

	clientID, err := clienttest.Register(issuer, `{"redirect_uris":["http://127.0.0.1:6000/callback"],"token_endpoint_auth_method":"none"}`)
	if err != nil {
		t.Fatal(err)
	}
	flow := clienttest.CodeFlow{Issuer: issuer, ClientID: clientID, RedirectURI: "http://127.0.0.1:6000/callback", Scope: "notes:read", Resource: resource}
	params := flow.Params()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Audiences: []string{resource}, Issuers: []auth.Issuer{{URL: issuer}}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for round := range 5 {
		code, err := flow.Code()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var wins atomic.Int64
		var token atomic.Value
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				status, out, err := flow.Token(flow.CodeForm(code))
				if err != nil {
					t.Error(err)
					return
				}
				if status == 200 {
					wins.Add(1)
					token.Store(out["access_token"])
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: the code was redeemed %d times", round, wins.Load())
		}
		if _, err := v.Verify(context.Background(), token.Load().(string)); err != nil {
			t.Fatalf("round %d: the token does not verify with the replicas' key set: %v", round, err)
		}
	}

	// Redis goes away in the middle of a flow.
	resp, _ := noRedirect.Get(issuer + "/authorize?" + params.Encode())
	resp.Body.Close()
	resp, _ = noRedirect.Get(resp.Header.Get("Location")) // the upstream approves
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	stopRedis()
	resp, err = noRedirect.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("callback with Redis gone: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, u := range []string{issuer + "/authorize?" + params.Encode()} {
		resp, _ := noRedirect.Get(u)
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Fatalf("%s with Redis gone: %d %s", u, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// Keys rotate: the first signs, the old one stays published, so tokens it
// signed keep verifying until they expire.
func TestSigningKeyRotation(t *testing.T) {
	up := authtest.Start(authtest.Options{KeyAlgorithm: "ES256"})
	defer up.Close()
	oldKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p, err := proxy.New(context.Background(), proxy.Config{Issuer: "http://127.0.0.1:1", Resource: "https://mcp.example.com/mcp",
		Upstream: proxy.Upstream{Issuer: up.URL, ClientID: "x"}, SigningKeys: []crypto.Signer{newKey, oldKey}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptestRecorder(p, "/jwks")
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	json.Unmarshal(rec, &set)
	if len(set.Keys) != 2 || set.Keys[0]["kid"] == set.Keys[1]["kid"] {
		t.Fatalf("published keys %v", set.Keys)
	}
}

// The go-sdk client registers (DCR), signs in and steps up through two
// proxy replicas on one Redis behind a round-robin balancer: every step
// may land on either replica.
func TestGoSDKClientAcrossReplicas(t *testing.T) {
	c := replicas.Listen(t)
	issuer := c.URL
	up := authtest.Start(authtest.Options{AutoApprove: true, DisableDCR: true, DefaultAudience: upstreamAPI, KeyAlgorithm: "ES256", Subject: "upstream-bob",
		Clients: []*registration.Client{registration.Static("proxy-upstream-client", "proxy-upstream-secret",
			registration.Metadata{RedirectURIs: []string{issuer + "/callback"}, GrantTypes: []string{"authorization_code"}}, registration.RedirectPolicy{})}})
	defer up.Close()
	mux := http.NewServeMux()
	mcpSrv := httptest.NewServer(mux)
	defer mcpSrv.Close()
	mcpURL := mcpSrv.URL + "/mcp"
	shared := sharedKeys()
	var proxies []*proxy.Proxy
	c.Serve(2, "replicas:", func(s store.Store) http.Handler {
		p := newReplica(t, shared(proxy.Config{Issuer: issuer, Resource: mcpURL, AutoApprove: true, ScopesSupported: []string{"notes:read", "notes:write"},
			Upstream: proxy.Upstream{Issuer: up.URL, ClientID: "proxy-upstream-client", ClientSecret: "proxy-upstream-secret"},
			DCR:      &registration.Policy{Redirects: registration.RedirectPolicy{AllowLocalhost: true}}, Store: s}))
		proxies = append(proxies, p)
		return p
	})

	a, err := auth.New(context.Background(), auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: issuer}}}, Resource: mcpURL, BaselineScopes: []string{"notes:read"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s := server.NewMCPServer("notes", "1", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t := auth.TokenFromContext(ctx)
		if _, err := proxies[0].UpstreamToken(ctx, t); err != nil { // sealed by either replica, opened by this one
			return mcp.NewToolResultError(err.Error()), nil
		}
		return mcp.NewToolResultText(t.Subject), nil
	})
	s.AddTool(mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write")), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("added"), nil
	})
	mux.Handle("/", mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s)))

	const redirect = "http://127.0.0.1:33421/callback"
	var authorizations atomic.Int32
	h, err := sdkauth.NewAuthorizationCodeHandler(&sdkauth.AuthorizationCodeHandlerConfig{
		RedirectURL: redirect,
		DynamicClientRegistrationConfig: &sdkauth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "none"}},
		AuthorizationCodeFetcher: clienttest.CodeFetcher(&authorizations),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	session, err := sdk.NewClient(&sdk.Implementation{Name: "go-sdk", Version: "1"}, nil).Connect(ctx, &sdk.StreamableClientTransport{Endpoint: mcpURL, OAuthHandler: h}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	if who, err := clienttest.CallText(ctx, session, "whoami", ""); err != nil || who != "upstream-bob" {
		t.Fatalf("whoami = %q %v", who, err)
	}
	if got, err := clienttest.CallText(ctx, session, "add_note", "x"); err != nil || got != "added" || authorizations.Load() != 2 {
		t.Fatalf("add_note after step-up across replicas = %q %v (%d authorizations)", got, err, authorizations.Load())
	}
}

// The budgets of what unauthenticated callers leave hold across replicas
// on Redis: counted in the shared store, per source first, then for all.
func TestBudgetsAcrossReplicas(t *testing.T) {
	c := replicas.Listen(t)
	issuer := c.URL
	up := authtest.Start(authtest.Options{AutoApprove: true, DisableDCR: true, DefaultAudience: upstreamAPI, KeyAlgorithm: "ES256",
		Clients: []*registration.Client{registration.Static("pc", "ps", registration.Metadata{RedirectURIs: []string{issuer + "/callback"}, GrantTypes: []string{"authorization_code"}}, registration.RedirectPolicy{})}})
	defer up.Close()
	c.Serve(2, "budgets:", func(s store.Store) http.Handler {
		return newReplica(t, proxy.Config{Issuer: issuer, Resource: "https://mcp.example.com/mcp", ScopesSupported: []string{"notes:read"},
			Upstream: proxy.Upstream{Issuer: up.URL, ClientID: "pc", ClientSecret: "ps"}, ConsentKey: bytes.Repeat([]byte{9}, 32),
			Clients: []*registration.Client{registration.Static("c", "", registration.Metadata{RedirectURIs: []string{"http://127.0.0.1/callback"}}, registration.RedirectPolicy{AllowLocalhost: true})},
			DCR:     &registration.Policy{Redirects: registration.RedirectPolicy{AllowLocalhost: true}},
			Limits: proxy.Limits{PendingPerSource: 4, Pending: 6, RegistrationsPerSource: 2, Registrations: 3,
				Source: func(r *http.Request) string { return r.Header.Get("X-Source") }},
			Store: s})
	})
	send := func(src, method, path, body string) int {
		req, _ := http.NewRequest(method, issuer+path, strings.NewReader(body))
		req.Header.Set("X-Source", src)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	count := func(src, method, path, body string, n int) (codes []int) {
		for range n {
			codes = append(codes, send(src, method, path, body))
		}
		return codes
	}
	authorize := "/authorize?" + params("c", "notes:read")
	if got := count("a", "GET", authorize, "", 6); !slices.Equal(got, []int{200, 200, 200, 200, 429, 429}) {
		t.Fatalf("source a's pending requests: %v, want 4 kept", got)
	}
	if got := count("b", "GET", authorize, "", 3); !slices.Equal(got, []int{200, 200, 429}) {
		t.Fatalf("source b's pending requests: %v, want 2 kept (6 for all)", got)
	}
	reg := `{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none"}`
	if got := count("a", "POST", "/register", reg, 3); !slices.Equal(got, []int{201, 201, 429}) {
		t.Fatalf("source a's registrations: %v, want 2", got)
	}
	if got := count("b", "POST", "/register", reg, 2); !slices.Equal(got, []int{201, 429}) {
		t.Fatalf("source b's registrations: %v, want 1 (3 for all)", got)
	}
}

// sharedKeys returns what sets the keys replicas must share (signing,
// upstream tokens' keyring, consent) on a configuration.
func sharedKeys() func(proxy.Config) proxy.Config {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyring, _ := store.NewKeyring(bytes.Repeat([]byte{7}, 32))
	return func(c proxy.Config) proxy.Config {
		c.Keyring, c.SigningKeys, c.ConsentKey = keyring, []crypto.Signer{key}, bytes.Repeat([]byte{9}, 32)
		return c
	}
}

// newReplica is one proxy replica, closed when the test ends.
func newReplica(t *testing.T, cfg proxy.Config) *proxy.Proxy {
	t.Helper()
	p, err := proxy.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Two replicas on one Redis: an ID-JAG, a private_key_jwt assertion and a
// DPoP proof, each sent six times at once across the replicas, are each
// accepted once (their jti are remembered in the shared store).
func TestAgentsSingleUseAcrossReplicas(t *testing.T) {
	c := replicas.Listen(t)
	issuer := c.URL
	up := authtest.Start(authtest.Options{DisableDCR: true})
	defer up.Close()
	idp := authtest.Start(authtest.Options{KeyAlgorithm: "ES256"})
	defer idp.Close()
	const resource = "https://mcp.example.com/mcp"
	signer := clienttest.NewKey()
	shared := sharedKeys()
	c.Serve(2, "proxy:", func(s store.Store) http.Handler {
		return newReplica(t, shared(proxy.Config{Issuer: issuer, Resource: resource, ScopesSupported: []string{"notes:read"},
			Upstream: proxy.Upstream{Issuer: up.URL, ClientID: "proxy-upstream-client", ClientSecret: "x"},
			Clients: append(machineClients(signer, ""), registration.Static("enterprise-client", "ent-secret",
				registration.Metadata{GrantTypes: []string{proxy.GrantJWTBearer}}, registration.RedirectPolicy{})),
			Enterprise: []proxy.EnterpriseIdP{{Issuer: idp.URL}}, DPoP: &auth.DPoPConfig{}, Store: s}))
	})
	race := func(name string, send func() int) {
		var wins atomic.Int64
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if send() == 200 {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%s: accepted %d times across the replicas, want once", name, wins.Load())
		}
	}
	w := &world{asURL: issuer}
	jag := url.Values{"grant_type": {proxy.GrantJWTBearer}, "assertion": {idp.IDJAG(authtest.IDJAGRequest{Audience: issuer, ClientID: "enterprise-client", Resource: resource})}}
	race("an ID-JAG", func() int { status, _ := tokenRequest(t, w, jag, "enterprise-client", "ent-secret", ""); return status })
	assertion := url.Values{"grant_type": {"client_credentials"}, "scope": {"notes:read"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {signer.Assertion("signed", issuer, nil)}}
	race("a private_key_jwt assertion", func() int { status, _ := tokenRequest(t, w, assertion, "", "", ""); return status })
	proof := clienttest.NewKey().Proof("POST", issuer+"/token", "", "", nil)
	race("a DPoP proof", func() int {
		status, _ := tokenRequest(t, w, url.Values{"grant_type": {"client_credentials"}}, "machine", "machine-secret", proof)
		return status
	})
}
