// Package exampletest is the end-to-end test suite of the notes examples:
// the same flows (banner and README walkthrough, the go-sdk and mcp-go OAuth
// clients through every registration model with step-up, the doctor, the
// TypeScript clients) run against examples/quickstart (mcp-go) and
// examples/gosdk (the official go-sdk) and examples/proxy, each passing its
// run function as an Example.
package exampletest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/internal/doctor"
)

// Options is what the suite sets on an example: each example's test turns
// it into the example's own options (every example is one self-contained
// main a user can copy, so none imports this package).
type Options struct {
	Addr, AuthAddr    string // listen addresses: free loopback ports
	ClientID, Secret  string // the static client
	AutoApprove       bool
	AllowLoopbackCIMD bool
	CIMDTLS           *tls.Config  // trust the suite's CIMD document server
	RefreshAlways     bool         // issue refresh tokens without offline_access, as some servers do
	Logger            *slog.Logger // where the example logs
}

// Example is an example program under test: its run function, serving
// until ctx ends and calling ready with the MCP URL and the issuer once it
// listens.
type Example func(ctx context.Context, o Options, out io.Writer, ready func(mcpURL, issuer string)) error

// start runs the example in-process on free loopback ports, with
// auto-approval (as `-auto-approve`) and loopback CIMD allowed for the test's
// document server.
func start(t *testing.T, ex Example, cimdTLS *http.Transport) (mcpURL, issuer string, out *bytes.Buffer) {
	t.Helper()
	return startWith(t, ex, cimdTLS, nil)
}

// startWith is start with the configuration changed by mutate.
func startWith(t *testing.T, ex Example, cimdTLS *http.Transport, mutate func(*Options)) (mcpURL, issuer string, out *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Options{Addr: "127.0.0.1:0", AuthAddr: "127.0.0.1:0", ClientID: "quickstart-client", Secret: "quickstart-secret",
		AutoApprove: true, AllowLoopbackCIMD: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if cimdTLS != nil {
		cfg.CIMDTLS = cimdTLS.TLSClientConfig
	}
	if mutate != nil {
		mutate(&cfg)
	}
	out = &bytes.Buffer{}
	readyc := make(chan [2]string, 1)
	done := make(chan error, 1)
	var mu sync.Mutex
	go func() {
		done <- ex(ctx, cfg, &lockedWriter{w: out, mu: &mu}, func(m, i string) { readyc <- [2]string{m, i} })
	}()
	select {
	case r := <-readyc:
		mcpURL, issuer = r[0], r[1]
	case err := <-done:
		t.Fatalf("the example did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return mcpURL, issuer, out
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// BannerAndWalkthrough checks the banner and follows the README's curl
// walkthrough: challenges, initialize, the 403 and the step-up, the trace.
func BannerAndWalkthrough(t *testing.T, ex Example) {
	mcpURL, issuer, out := start(t, ex, nil)
	for _, want := range []string{mcpURL, issuer, "claude mcp add --transport http notes " + mcpURL, "quickstart-client", "/debug/auth"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("banner lacks %q:\n%s", want, out)
		}
	}
	resp, err := http.Post(mcpURL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	prm := strings.TrimSuffix(mcpURL, "/mcp") + "/.well-known/oauth-protected-resource/mcp"
	if got, want := resp.Header.Get("WWW-Authenticate"), `Bearer resource_metadata="`+prm+`", scope="notes:read"`; resp.StatusCode != 401 || got != want {
		t.Fatalf("401 challenge:\n got %d %s\nwant 401 %s", resp.StatusCode, got, want)
	}
	// The README's curl walkthrough: a notes:read token from the
	// client_credentials grant, initialize, the exact 403 for add_note in the
	// session, then success with a notes:write token in the same session.
	token := func(scope string) string {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "resource": {mcpURL}}
		req, _ := http.NewRequest("POST", issuer+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("quickstart-client", "quickstart-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok map[string]any
		json.NewDecoder(resp.Body).Decode(&tok)
		s, _ := tok["access_token"].(string)
		return s
	}
	var sid string
	rpc := func(tok, body string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", mcpURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		req.Header.Set("Authorization", "Bearer "+tok)
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	read := token("notes:read")
	resp, _ = rpc(read, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`)
	if sid = resp.Header.Get("Mcp-Session-Id"); resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize: %d, session %q", resp.StatusCode, sid)
	}
	if resp, _ = rpc(read, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != 202 {
		t.Fatalf("notifications/initialized: %d", resp.StatusCode)
	}
	if resp, body := rpc(read, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami"}}`); resp.StatusCode != 200 || !strings.Contains(body, "scopes=notes:read") {
		t.Fatalf("whoami: %d %s", resp.StatusCode, body)
	}
	resp, body := rpc(read, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add_note","arguments":{"text":"buy milk"}}}`)
	want := `Bearer resource_metadata="` + prm + `", scope="notes:read notes:write", error="insufficient_scope", error_description="the token lacks scope notes:write that this request needs"`
	if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 403 || got != want || !strings.Contains(body, `"code":-32010`) || !strings.Contains(body, `"id":3`) {
		t.Fatalf("403 challenge:\n got %d %s %s\nwant 403 %s", resp.StatusCode, got, body, want)
	}
	if resp, body := rpc(token("notes:read notes:write"), `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"add_note","arguments":{"text":"buy milk"}}}`); resp.StatusCode != 200 || !strings.Contains(body, `"text":"added: buy milk"`) {
		t.Fatalf("add_note with notes:write: %d %s", resp.StatusCode, body)
	}
	// Without the session the SDK refuses the call (mcp-go: 404 Invalid
	// session ID; the go-sdk: 200 with a JSON-RPC error), though
	// authorization allowed it.
	sid = ""
	noSession, body := rpc(read, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"whoami"}}`)
	if noSession.StatusCode == 200 && !strings.Contains(body, `"error"`) || strings.Contains(body, "subject=") {
		t.Fatalf("a call without the session ran: %d %s", noSession.StatusCode, body)
	}
	// The decision trace lines the refusal up with the tool call, and shows
	// the status the last call received although it was allowed.
	resp, err = http.Get(strings.TrimSuffix(mcpURL, "/mcp") + "/debug/auth?format=json")
	if err != nil {
		t.Fatal(err)
	}
	var decisions []auth.Decision
	json.NewDecoder(resp.Body).Decode(&decisions)
	resp.Body.Close()
	if len(decisions) < 3 {
		t.Fatalf("trace = %+v", decisions)
	}
	last, refused := decisions[0], decisions[2]
	if !last.Allowed || last.Status != noSession.StatusCode || len(last.Messages) != 1 || last.Messages[0].ID != "5" {
		t.Fatalf("trace of the call without a session = %+v", last)
	}
	if len(refused.Messages) != 1 || refused.Messages[0].Name != "add_note" || !refused.Messages[0].Refused || refused.Reason != auth.ReasonScopeInsufficient || refused.ClientID != "quickstart-client" {
		t.Fatalf("trace of the refusal = %+v", refused)
	}
}

// CIMDDocument serves a public client's metadata document over TLS on
// loopback and returns the server and the document URL (the client id).
func CIMDDocument(t *testing.T, name, redirect string) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewTLSServer(nil)
	t.Cleanup(srv.Close)
	id := srv.URL + "/client.json"
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"client_id": id, "client_name": name,
			"redirect_uris": []string{redirect}, "token_endpoint_auth_method": "none"})
	})
	return srv, id
}

// GoSDKClient: the official Go SDK client, for each registration model,
// calls whoami and list_notes, gets the 403 on add_note, steps up and
// succeeds.
func GoSDKClient(t *testing.T, ex Example) { goSDKClient(t, ex, true) }

// GoSDKClientWithConsent is GoSDKClient with the consent pages on (the
// proxy's and the development server's): the user approves each one,
// every parameter of the request kept through their forms.
func GoSDKClientWithConsent(t *testing.T, ex Example) { goSDKClient(t, ex, false) }

func goSDKClient(t *testing.T, ex Example, autoApprove bool) {
	cimd, cimdURL := CIMDDocument(t, "CIMD client", "http://localhost/callback")
	mcpURL, _, _ := startWith(t, ex, cimd.Client().Transport.(*http.Transport), func(c *Options) { c.AutoApprove = autoApprove })
	models := map[string]func(*sdkauth.AuthorizationCodeHandlerConfig){
		"static": func(c *sdkauth.AuthorizationCodeHandlerConfig) {
			c.PreregisteredClient = &oauthex.ClientCredentials{ClientID: "quickstart-client", ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: "quickstart-secret"}}
		},
		"dcr": func(c *sdkauth.AuthorizationCodeHandlerConfig) {
			c.RedirectURL = "http://localhost:33418/callback"
			c.DynamicClientRegistrationConfig = &sdkauth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
				RedirectURIs: []string{"http://localhost:33418/callback"}, TokenEndpointAuthMethod: "none", ClientName: "VS Code-like"}}
		},
		"cimd": func(c *sdkauth.AuthorizationCodeHandlerConfig) {
			c.RedirectURL = "http://localhost:33418/callback"
			c.ClientIDMetadataDocumentConfig = &sdkauth.ClientIDMetadataDocumentConfig{URL: cimdURL}
		},
	}
	for name, configure := range models {
		t.Run(name, func(t *testing.T) {
			var authorizations atomic.Int32
			cfg := &sdkauth.AuthorizationCodeHandlerConfig{
				RedirectURL:              "http://127.0.0.1:33418/callback",
				AuthorizationCodeFetcher: clienttest.CodeFetcher(&authorizations),
			}
			configure(cfg)
			h, err := sdkauth.NewAuthorizationCodeHandler(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			session, err := sdk.NewClient(&sdk.Implementation{Name: "go-sdk", Version: "1"}, nil).
				Connect(ctx, &sdk.StreamableClientTransport{Endpoint: mcpURL, OAuthHandler: h}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer session.Close()
			if who, err := clienttest.CallText(ctx, session, "whoami", ""); err != nil || !strings.Contains(who, "scopes=notes:read") {
				t.Fatalf("whoami = %q %v", who, err)
			}
			if _, err := clienttest.CallText(ctx, session, "list_notes", ""); err != nil {
				t.Fatalf("list_notes: %v", err)
			}
			if got, err := clienttest.CallText(ctx, session, "add_note", "buy milk"); err != nil || got != "added: buy milk" || authorizations.Load() != 2 {
				t.Fatalf("add_note after step-up = %q %v (%d authorizations)", got, err, authorizations.Load())
			}
		})
	}
}

// MCPGoClient: mcp-go's OAuth client, with DCR and with the static client,
// completes the flow and calls list_notes.
func MCPGoClient(t *testing.T, ex Example) {
	mcpURL, _, _ := start(t, ex, nil)
	for name, oc := range map[string]transport.OAuthConfig{
		"static": {ClientID: "quickstart-client", ClientSecret: "quickstart-secret", RedirectURI: "http://127.0.0.1:33419/callback", Scopes: []string{"notes:read"}, PKCEEnabled: true},
		"dcr":    {RedirectURI: "http://localhost:33419/callback", Scopes: []string{"notes:read"}, PKCEEnabled: true},
	} {
		t.Run(name, func(t *testing.T) {
			oc.TokenStore = transport.NewMemoryTokenStore()
			c, err := client.NewOAuthStreamableHttpClient(mcpURL, oc)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			init := mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_LEGACY_PROTOCOL_VERSION, ClientInfo: mcp.Implementation{Name: "mcp-go", Version: "1"}}}
			_, err = c.Initialize(ctx, init)
			if !client.IsOAuthAuthorizationRequiredError(err) {
				t.Fatalf("first initialize: %v, want an authorization-required error", err)
			}
			h := client.GetOAuthHandler(err)
			if name == "dcr" {
				if err := h.RegisterClient(ctx, "mcp-go quickstart test"); err != nil {
					t.Fatalf("DCR: %v", err)
				}
			}
			verifier, _ := transport.GenerateCodeVerifier()
			state, _ := transport.GenerateState()
			authURL, err := h.GetAuthorizationURL(ctx, state, transport.GenerateCodeChallenge(verifier))
			if err != nil {
				t.Fatal(err)
			}
			q, err := clienttest.Approve(authURL)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.ProcessAuthorizationResponse(ctx, q.Get("code"), q.Get("state"), verifier); err != nil {
				t.Fatalf("token exchange: %v", err)
			}
			if _, err := c.Initialize(ctx, init); err != nil {
				t.Fatalf("initialize with a token: %v", err)
			}
			res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "list_notes"}})
			if err != nil || res.IsError {
				t.Fatalf("list_notes: %v %+v", err, res)
			}
		})
	}
}

// Doctor: `mcpauth doctor` passes every check against the example, for
// each registration model's headless flow.
func Doctor(t *testing.T, ex Example) {
	cimd, cimdURL := CIMDDocument(t, "doctor", "http://127.0.0.1/callback")
	mcpURL, _, _ := start(t, ex, cimd.Client().Transport.(*http.Transport))
	for _, opts := range []doctor.Options{
		{},
		{Flow: "dcr"},
		{Flow: "static", ClientID: "quickstart-client", ClientSecret: "quickstart-secret"},
		{Flow: "cimd", ClientID: cimdURL},
	} {
		t.Run("flow "+opts.Flow, func(t *testing.T) {
			r := doctor.Run(context.Background(), mcpURL, opts)
			for _, c := range r.Checks {
				if c.Status != doctor.Pass {
					t.Fatalf("%s is %s:\n%s", c.Name, c.Status, r.Text())
				}
			}
			if opts.Flow != "" && !strings.Contains(r.Text(), "3 tools: add_note, list_notes, whoami") {
				t.Fatalf("the flow did not list the tools:\n%s", r.Text())
			}
		})
	}
}

// DoctorRefreshWarning: against an authorization server that issues
// refresh tokens to every grant, the doctor's flow warns, naming the
// TypeScript v1 step-up failure and its fix.
func DoctorRefreshWarning(t *testing.T, ex Example) {
	mcpURL, _, _ := startWith(t, ex, nil, func(c *Options) { c.RefreshAlways = true })
	for _, opts := range []doctor.Options{
		{Flow: "dcr"},
		{Flow: "static", ClientID: "quickstart-client", ClientSecret: "quickstart-secret"},
	} {
		r := doctor.Run(context.Background(), mcpURL, opts)
		var warned bool
		for _, c := range r.Checks {
			if c.Name == "flow "+opts.Flow+" refresh token" {
				warned = c.Status == doctor.Warn && strings.Contains(c.Fix, "Server returned 403 after trying upscoping") && strings.Contains(c.Fix, "offline_access")
			}
		}
		if !warned || r.Failed() {
			t.Fatalf("flow %s: no refresh-token warning:\n%s", opts.Flow, r.Text())
		}
	}
	// Asking for offline_access is fine.
	r := doctor.Run(context.Background(), mcpURL, doctor.Options{Flow: "dcr", Scopes: []string{"notes:read", "notes:write", "offline_access"}})
	if !strings.Contains(r.Text(), "issued for offline_access") {
		t.Fatalf("offline_access flow:\n%s", r.Text())
	}
}

// DoctorNewUser: what a new user hits with the doctor. A mistyped MCP URL
// (a trailing slash, /sse) is named as such, with the URL whose metadata
// exists; a flow stopped by a consent or sign-in page names that page.
func DoctorNewUser(t *testing.T, ex Example, pageTitle string) {
	mcpURL, _, _ := startWith(t, ex, nil, func(c *Options) { c.AutoApprove = false })
	for _, mistyped := range []string{mcpURL + "/", strings.TrimSuffix(mcpURL, "/mcp") + "/sse"} {
		r := doctor.Run(context.Background(), mistyped, doctor.Options{})
		if !strings.Contains(r.Text(), "the MCP URL is probably "+mcpURL) {
			t.Fatalf("doctor %s does not point at %s:\n%s", mistyped, mcpURL, r.Text())
		}
	}
	r := doctor.Run(context.Background(), mcpURL, doctor.Options{Flow: "static", ClientID: "quickstart-client", ClientSecret: "quickstart-secret"})
	if c := findCheck(r, "flow static authorize"); c == nil || !strings.Contains(c.Seen, pageTitle) || !strings.Contains(c.Seen, "/authorize") {
		t.Fatalf("the doctor does not name the page that stopped the flow (%q):\n%s", pageTitle, r.Text())
	}
}

func findCheck(r *doctor.Report, name string) *doctor.Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}
