package security

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/expvarmetrics"
	"github.com/mcpauth/mcpauth/auth/gosdk"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
)

// env is the target of the catalogue: a notes MCP server protected by
// mcpauth (and a strict twin that enforces typ at+jwt), a development
// authorization server with DCR and CIMD, and a CIMD document server.
type env struct {
	as, asLoopback *authtest.Server
	srv            *httptest.Server
	mcpURL         string
	strictURL      string
	cimd           *httptest.Server
	toolRuns       atomic.Int64 // times a guarded tool actually ran
	statelessURL   string       // a sessionless (stateless) twin of mcpURL with a slow tool
	gosdkURL       string       // the same notes server on the official go-sdk, through auth/gosdk
	proxyURL       string       // an authorization proxy (consent on) in front of an upstream without DCR
	waitStarted    chan struct{}
	waitRelease    chan struct{}
	waitCancelled  atomic.Int64 // times the slow tool was cancelled
	lastSession    string       // the last Mcp-Session-Id the MCP server assigned
	lastRefresh    string       // the last refresh token issued
	foreignRSA     *rsa.PrivateKey
	foreignEC      *ecdsa.PrivateKey
	agents         *agents // MCP's authorization extensions: client credentials, ID-JAGs, DPoP
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{}
	e.as = authtest.Start(authtest.Options{AutoApprove: true, CIMD: true, Clients: []*registration.Client{staticClient()},
		DCR: registration.Policy{RateLimit: 20}})
	e.waitStarted, e.waitRelease = make(chan struct{}, 16), make(chan struct{}, 16)
	t.Cleanup(e.as.Close)
	e.cimd = httptest.NewTLSServer(http.HandlerFunc(e.serveCIMD))
	t.Cleanup(e.cimd.Close)
	e.asLoopback = authtest.Start(authtest.Options{AutoApprove: true, CIMD: true, CIMDOptions: registration.CIMDOptions{
		InsecureAllowLoopback: true, TLSConfig: e.cimd.Client().Transport.(*http.Transport).TLSClientConfig}})
	t.Cleanup(e.asLoopback.Close)

	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.mcpURL, e.strictURL, e.statelessURL = e.srv.URL+"/mcp", e.srv.URL+"/strict/mcp", e.srv.URL+"/stateless/mcp"
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	trace, metrics := auth.NewTrace(16), expvarmetrics.New()
	mux.Handle("/debug/auth", trace)
	mux.Handle("/debug/auth/metrics", auth.LoopbackOnly(metrics))
	for _, variant := range []string{"", "strict", "stateless"} {
		strict := variant == "strict"
		resource := map[string]string{"": e.mcpURL, "strict": e.strictURL, "stateless": e.statelessURL}[variant]
		cfg := auth.Config{
			Tokens:   auth.VerifierConfig{Issuers: []auth.Issuer{{URL: e.as.URL}}, RequireJWTAccessTokenType: strict, MaxTokenBytes: 8 << 10},
			Resource: resource, BaselineScopes: []string{"notes:read"}, MaxBodyBytes: 64 << 10, Logger: quiet,
		}
		if variant == "" {
			cfg.Trace, cfg.Observer = trace, metrics
		}
		a, err := auth.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		s := server.NewMCPServer("notes", "1.0.0", append(mcpgo.ServerOptions(a), server.WithTaskCapabilities(true, true, true))...)
		s.AddTaskTool(mcp.NewTool("admin_task", mcpgo.RequireScopes("admin"), mcp.WithTaskSupport(mcp.TaskSupportRequired)),
			func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CreateTaskResult, error) {
				e.toolRuns.Add(1)
				return &mcp.CreateTaskResult{}, nil
			})
		s.AddTool(mcp.NewTool("wait"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			e.waitStarted <- struct{}{}
			select {
			case <-e.waitRelease:
				return mcp.NewToolResultText("done"), nil
			case <-ctx.Done():
				e.waitCancelled.Add(1)
				return nil, ctx.Err()
			}
		})
		s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(auth.TokenFromContext(ctx).Subject), nil
		})
		s.AddTool(mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			e.toolRuns.Add(1)
			return mcp.NewToolResultText("added"), nil
		})
		transport := server.NewStreamableHTTPServer(s, server.WithStateful(variant != "stateless"), server.WithStateLess(variant == "stateless"))
		h := mcpgo.Protect(a, s, transport)
		if variant != "" {
			mux.Handle("/"+variant+"/", h)
			mux.Handle("/.well-known/oauth-protected-resource/"+variant+"/mcp", h)
		} else {
			mux.Handle("/", h)
		}
	}
	e.gosdkURL = e.srv.URL + "/gosdk/mcp"
	mux.Handle("/gosdk/", e.goSDKServer(t, quiet))
	mux.Handle("/.well-known/oauth-protected-resource/gosdk/mcp", e.goSDKServer(t, quiet))
	e.startProxy(t)
	e.startAgents(t)
	testKeys(e)
	return e
}

// startProxy runs the authorization proxy, its consent page on, in front of
// an auto-approving upstream that knows only the proxy's client.
func (e *env) startProxy(t testing.TB) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	e.proxyURL = "http://" + ln.Addr().String()
	up := authtest.Start(authtest.Options{AutoApprove: true, DisableDCR: true, DefaultAudience: "https://upstream-api.example", KeyAlgorithm: "ES256",
		Clients: []*registration.Client{registration.Static("proxy-upstream-client", "proxy-upstream-secret",
			registration.Metadata{RedirectURIs: []string{e.proxyURL + "/callback"}, GrantTypes: []string{"authorization_code"}}, registration.RedirectPolicy{})}})
	t.Cleanup(up.Close)
	p, err := proxy.New(context.Background(), proxy.Config{Issuer: e.proxyURL, Resource: e.mcpURL, ScopesSupported: []string{"notes:read", "notes:write"},
		Upstream: proxy.Upstream{Issuer: up.URL, ClientID: "proxy-upstream-client", ClientSecret: "proxy-upstream-secret"},
		Clients:  []*registration.Client{staticClient()},
		DCR:      &registration.Policy{Redirects: registration.RedirectPolicy{AllowLocalhost: true}, RateLimit: 1000},
		CIMD:     &registration.CIMDOptions{Redirects: registration.RedirectPolicy{AllowLocalhost: true}},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// goSDKServer is the notes server on the go-sdk: add_note needs
// notes:write, a prompt and a resource template need scopes of their own.
func (e *env) goSDKServer(t testing.TB, logger *slog.Logger) http.Handler {
	a, err := auth.New(context.Background(), auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: e.as.URL}}}, Resource: e.gosdkURL,
		BaselineScopes: []string{"notes:read"}, MaxBodyBytes: 64 << 10, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	s := sdk.NewServer(&sdk.Implementation{Name: "notes", Version: "1"}, nil)
	p := gosdk.New(a, s)
	ran := func(text string) *sdk.CallToolResult {
		e.toolRuns.Add(1)
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text}}}
	}
	sdk.AddTool(s, &sdk.Tool{Name: "whoami"}, func(ctx context.Context, _ *sdk.CallToolRequest, _ any) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: auth.TokenFromContext(ctx).Subject}}}, nil, nil
	})
	sdk.AddTool(s, p.Tool(&sdk.Tool{Name: "add_note"}, "notes:write"), func(context.Context, *sdk.CallToolRequest, any) (*sdk.CallToolResult, any, error) {
		return ran("added"), nil, nil
	})
	s.AddPrompt(p.Prompt(&sdk.Prompt{Name: "secret"}, "prompts:secret"), func(context.Context, *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
		e.toolRuns.Add(1)
		return &sdk.GetPromptResult{Messages: []*sdk.PromptMessage{{Role: "user", Content: &sdk.TextContent{Text: "secret"}}}}, nil
	})
	s.AddResourceTemplate(p.ResourceTemplate(&sdk.ResourceTemplate{URITemplate: "notes://private/{id}", Name: "private"}, "notes:private"),
		func(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			e.toolRuns.Add(1)
			return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, Text: "private"}}}, nil
		})
	return p.Protect(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, gosdk.HandlerOptions(a)))
}

func testKeys(e *env) {
	e.foreignRSA, _ = rsa.GenerateKey(rand.Reader, 2048)
	e.foreignEC, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func authtestReq(resource, subject string) authtest.TokenRequest {
	return authtest.TokenRequest{Subject: subject, Audience: []string{resource}, Scopes: []string{"notes:read"}}
}

func staticClient() *registration.Client {
	return registration.Static("quickstart-client", "quickstart-secret", registration.Metadata{
		RedirectURIs: []string{"http://127.0.0.1/callback", "https://app.example.com/callback"},
		GrantTypes:   []string{"authorization_code", "refresh_token", "client_credentials"},
	}, registration.RedirectPolicy{})
}

// serveCIMD serves client metadata documents, good and hostile, by path.
func (e *env) serveCIMD(w http.ResponseWriter, r *http.Request) {
	base := "https://" + r.Host
	doc := map[string]any{"client_id": base + r.URL.Path, "client_name": "c", "redirect_uris": []string{"http://127.0.0.1/callback"}}
	switch r.URL.Path {
	case "/mismatch.json":
		doc["client_id"] = "https://evil.example/client.json"
	case "/secret.json":
		doc["client_secret"] = "s3cret"
	case "/javascript.json":
		doc["redirect_uris"] = []string{"javascript:alert(1)"}
	case "/redirect.json":
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		return
	case "/html.json":
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html></html>")
		return
	case "/huge.json":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"client_name":"`+strings.Repeat("a", 70<<10)+`"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}

// mint returns a valid token for resource with scope.
func (e *env) mint(resource, scope string, header map[string]any) string {
	return e.as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{resource}, Scopes: strings.Fields(scope), Header: header})
}

// with returns a valid claim set for the default resource, edited: a nil
// value removes the claim.
func (e *env) with(set map[string]any) map[string]any {
	c := e.claims(e.mcpURL)
	for k, v := range set {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// signForeign signs claims with a key the AS never published, under header.
func (e *env) signForeign(alg jwa.SignatureAlgorithm, claims map[string]any, header map[string]any) string {
	var raw any = e.foreignRSA
	if alg == jwa.ES256 {
		raw = e.foreignEC
	}
	key, _ := jwk.FromRaw(raw)
	payload, _ := json.Marshal(claims)
	h := jws.NewHeaders()
	for k, v := range header {
		_ = h.Set(k, v)
	}
	tok, _ := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	return string(tok)
}

// claims returns the payload of a valid token, to be edited.
func (e *env) claims(resource string) map[string]any {
	tok := e.mint(resource, "notes:read", nil)
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	var c map[string]any
	json.Unmarshal(b, &c)
	return c
}

// hmacToken signs claims with HMAC using key as the secret: the classic
// algorithm-confusion attack with a public key as the HMAC secret.
func hmacToken(alg string, kid string, key []byte, claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"})
	p, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	var fn func() hash.Hash
	switch alg {
	case "HS384":
		fn = sha512.New384
	case "HS512":
		fn = sha512.New
	default:
		fn = sha256.New
	}
	m := hmac.New(fn, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func unsignedToken(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

func publicDER(pub any) []byte {
	b, _ := x509.MarshalPKIXPublicKey(pub)
	return b
}

// publishedKey fetches the AS's published RSA key over HTTP, as an attacker would.
func (e *env) publishedKey(t testing.TB) (kid string, der []byte) {
	resp, err := http.Get(e.as.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	set, err := jwk.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := set.Key(0)
	var pub rsa.PublicKey
	k.Raw(&pub)
	return k.KeyID(), publicDER(&pub)
}
