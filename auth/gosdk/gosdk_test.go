package gosdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/gosdk"
	"github.com/mcpauth/mcpauth/internal/challenge"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/internal/kit"
	"github.com/mcpauth/mcpauth/internal/wire"
	"github.com/mcpauth/mcpauth/scopes"
)

// fixture is a go-sdk notes server behind mcpauth over real HTTP.
type fixture struct {
	as  *authtest.Server
	a   *auth.Authenticator
	s   *mcp.Server
	p   *gosdk.Protector
	url string
	// seen records what the whoami handler saw of its caller.
	seen chan string
}

func newFixture(t *testing.T, opts ...gosdk.Option) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, opts...)
}

// newFixtureWith is newFixture with the Authenticator's configuration
// changed by mutate.
func newFixtureWith(t *testing.T, mutate func(*auth.Config), opts ...gosdk.Option) *fixture {
	t.Helper()
	as := authtest.Start(authtest.Options{KeyAlgorithm: "ES256"})
	t.Cleanup(as.Close)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f := &fixture{as: as, url: srv.URL + "/mcp", seen: make(chan string, 16)}
	cfg := auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}, Resource: f.url, BaselineScopes: []string{"notes:read"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := auth.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	f.a = a
	s := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "1"}, nil)
	p := gosdk.New(a, s, opts...)
	mcp.AddTool(s, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
		t := auth.TokenFromContext(ctx)
		var ti *sdkauth.TokenInfo
		if req.Extra != nil {
			ti = req.Extra.TokenInfo
		}
		if t == nil || ti == nil || gosdk.TokenFrom(req) != t {
			f.seen <- "no token"
			return text("no token"), nil, nil
		}
		f.seen <- t.Subject + " " + ti.UserID + " " + strings.Join(ti.Scopes, ",")
		return text(t.Subject), nil, nil
	})
	mcp.AddTool(s, p.Tool(&mcp.Tool{Name: "add_note"}, "notes:write"), func(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
		return text("added"), nil, nil
	})
	mcp.AddTool(s, p.ToolRequires(&mcp.Tool{Name: "purge"}, scopes.AnyOf(scopes.All("admin"), scopes.All("notes:admin"))), func(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
		return text("purged"), nil, nil
	})
	s.AddPrompt(p.Prompt(&mcp.Prompt{Name: "secret_prompt"}, "prompts:secret"), func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "secret"}}}}, nil
	})
	s.AddResource(p.Resource(&mcp.Resource{URI: "notes://all", Name: "all"}, "notes:read"), readAs("all notes"))
	s.AddResourceTemplate(p.ResourceTemplate(&mcp.ResourceTemplate{URITemplate: "notes://private/{id}", Name: "private"}, "notes:private"), readAs("private note"))
	f.s, f.p = s, p
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, gosdk.HandlerOptions(a))
	mux.Handle("/", p.Protect(h))
	return f
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func readAs(body string) mcp.ResourceHandler {
	return func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: body}}}, nil
	}
}

func (f *fixture) token(sub string, s ...string) string {
	return f.as.Mint(authtest.TokenRequest{Subject: sub, Audience: []string{f.url}, Scopes: s})
}

type bearer struct{ tok string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens a go-sdk client session with a fixed token.
func (f *fixture) connect(t *testing.T, tok string) *mcp.ClientSession {
	t.Helper()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: f.url, HTTPClient: &http.Client{Transport: bearer{tok}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// post sends one JSON-RPC body and returns the status, challenge and body.
func (f *fixture) post(t *testing.T, tok, body string, header map[string]string) (int, map[string]string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	ch, _ := challenge.Parse(resp.Header.Get("WWW-Authenticate"))
	return resp.StatusCode, ch, string(b)
}

func call(name string) string {
	return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"` + name + `","arguments":{}}}`
}

// The validated token reaches go-sdk handlers through auth.TokenFromContext
// and the SDK's own RequestExtra.TokenInfo, whose UserID is the issuer and
// subject.
func TestHandlersSeeTheToken(t *testing.T) {
	f := newFixture(t)
	cs := f.connect(t, f.token("alice", "notes:read"))
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"}); err != nil {
		t.Fatal(err)
	}
	if got, want := <-f.seen, "alice "+f.as.URL+" alice notes:read"; got != want {
		t.Fatalf("handler saw %q, want %q", got, want)
	}
}

// A call needing a scope the token lacks gets the 403 step-up challenge at
// the HTTP level, before the SDK sees it, with the JSON-RPC error body;
// with the scope it runs. The go-sdk's own client steps up on exactly
// this challenge (examples/gosdk's end-to-end tests).
func TestStepUpChallenge(t *testing.T) {
	f := newFixture(t)
	status, ch, body := f.post(t, f.token("alice", "notes:read"), call("add_note"), map[string]string{"MCP-Protocol-Version": "2025-11-25"})
	if status != 403 || ch["error"] != "insufficient_scope" || ch["scope"] != "notes:read notes:write" || !strings.Contains(body, `"code":-32010`) {
		t.Fatalf("add_note with notes:read: %d %v %s", status, ch, body)
	}
	status, ch, _ = f.post(t, f.token("alice", "notes:read"), call("purge"), nil)
	if status != 403 || ch["scope"] != "admin notes:read" {
		t.Fatalf("purge: %d %v", status, ch)
	}
	cs := f.connect(t, f.token("alice", "notes:read", "notes:write"))
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "add_note"})
	if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "added" {
		t.Fatalf("add_note with notes:write: %v %+v", err, res)
	}
}

// Requirements are published in _meta, as clients see them in tools/list,
// and the annotated scopes are advertised in the metadata.
func TestRequirementsPublished(t *testing.T) {
	f := newFixture(t)
	cs := f.connect(t, f.token("alice", "notes:read"))
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tool := range res.Tools {
		if v, ok := tool.Meta[kit.MetaKey]; ok {
			req, err := kit.RequirementFromMeta(v)
			if err != nil {
				t.Fatalf("%s: %v", tool.Name, err)
			}
			got[tool.Name] = req.String()
		}
	}
	if got["add_note"] != "notes:write" || got["purge"] != "admin | notes:admin" || got["whoami"] != "" {
		t.Fatalf("published requirements %v", got)
	}
	if ss := clienttest.ScopesSupported(t, f.a); !strings.Contains(strings.Join(ss, " "), "notes:write") {
		t.Fatalf("scopes_supported %v", ss)
	}
}

// Every way the SDK dispatches an operation is checked where it dispatches
// it: a transport that never crosses HTTP (in memory) carries no token, so
// every guarded operation is refused; prompts, resources and templates are
// checked like tools.
func TestReceivingMiddlewareChecksEveryDispatch(t *testing.T) {
	f := newFixture(t)
	ct, st := mcp.NewInMemoryTransports()
	if _, err := f.s.Connect(context.Background(), st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "in-process", Version: "1"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ctx := context.Background()
	for name, do := range map[string]func() error{
		"tools/call add_note":        func() error { _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add_note"}); return err },
		"prompts/get secret_prompt":  func() error { _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "secret_prompt"}); return err },
		"resources/read notes://all": func() error { _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "notes://all"}); return err },
		"resources/read via a template": func() error {
			_, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "notes://private/42"})
			return err
		},
	} {
		var werr *jsonrpc.Error
		if err := do(); !errors.As(err, &werr) || werr.Code != wire.CodeForbidden {
			t.Errorf("%s without a token: %v, want JSON-RPC %d", name, err, wire.CodeForbidden)
		}
	}
	// whoami needs only the baseline, which the HTTP layer checks: in
	// process it runs, and sees no token.
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"}); err != nil {
		t.Fatal(err)
	}
	if got := <-f.seen; got != "no token" {
		t.Fatalf("whoami in process saw %q", got)
	}
}

// Prompts, resources and templates step up at the HTTP level too; a read
// matching a template needs the template's scopes.
func TestPromptsResourcesTemplates(t *testing.T) {
	f := newFixture(t)
	tok := f.token("alice", "notes:read")
	for body, want := range map[string]string{
		`{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"secret_prompt"}}`:        "notes:read prompts:secret",
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"notes://private/42"}}`: "notes:private notes:read",
	} {
		if status, ch, b := f.post(t, tok, body, nil); status != 403 || ch["scope"] != want {
			t.Errorf("%s: %d %v %s", body, status, ch, b)
		}
	}
	cs := f.connect(t, tok)
	res, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "notes://all"})
	if err != nil || res.Contents[0].Text != "all notes" {
		t.Fatalf("notes://all with notes:read: %v %+v", err, res)
	}
}

// Bypass classes of the hardening catalogue, against the go-sdk's dispatch:
// a body naming the tool twice, headers that disagree with the body, and a
// batch (which older revisions allow) hiding a guarded call.
func TestOperationCheckCannotBeBypassed(t *testing.T) {
	f := newFixture(t)
	tok := f.token("mallory", "notes:read")
	for _, tt := range []struct {
		name, body string
		header     map[string]string
		status     int
	}{
		{"member named twice in another case", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","Name":"add_note"}}`, nil, 400},
		{"Mcp-Name names a free tool, the body a guarded one", call("add_note"), map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "whoami"}, 400},
		{"batch hiding a guarded call", `[` + call("whoami") + `,` + strings.Replace(call("add_note"), `"id":7`, `"id":8`, 1) + `]`, map[string]string{"MCP-Protocol-Version": "2025-03-26"}, 403},
		{"escaped name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add\u005fnote"}}`, nil, 403},
	} {
		status, _, body := f.post(t, tok, tt.body, tt.header)
		if status != tt.status || strings.Contains(body, `"added"`) {
			t.Errorf("%s: %d %s, want %d", tt.name, status, body, tt.status)
		}
	}
}

// A session belongs to the subject that created it, at mcpauth's level and
// the SDK's (TokenInfo.UserID).
func TestSessionHijack(t *testing.T) {
	f := newFixture(t)
	alice := f.connect(t, f.token("alice", "notes:read"))
	sid := alice.ID()
	if sid == "" {
		t.Fatal("no session id")
	}
	status, _, body := f.post(t, f.token("mallory", "notes:read"), call("whoami"), map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"})
	if status != 404 || strings.Contains(body, "alice") {
		t.Fatalf("mallory with alice's session: %d %s", status, body)
	}
}

// HideUnauthorized lists only what the token may use.
func TestHideUnauthorized(t *testing.T) {
	f := newFixture(t, gosdk.HideUnauthorized())
	cs := f.connect(t, f.token("alice", "notes:read"))
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	if strings.Join(names, ",") != "whoami" {
		t.Fatalf("tools shown to notes:read: %v", names)
	}
	prompts, err := cs.ListPrompts(context.Background(), nil)
	if err != nil || len(prompts.Prompts) != 0 {
		t.Fatalf("prompts shown: %v %+v", err, prompts)
	}
	resources, err := cs.ListResources(context.Background(), nil)
	if err != nil || len(resources.Resources) != 1 {
		t.Fatalf("resources shown: %v %+v", err, resources)
	}
	raw, _ := json.Marshal(resources.Resources[0].Meta)
	if !strings.Contains(string(raw), kit.MetaKey) {
		t.Fatalf("resource _meta %s", raw)
	}
	// Filtered for this caller: never from a shared cache (SEP-2549).
	if res.CacheScope != "private" || prompts.CacheScope != "private" || resources.CacheScope != "private" {
		t.Fatalf("cacheScope of filtered lists: tools %q prompts %q resources %q", res.CacheScope, prompts.CacheScope, resources.CacheScope)
	}
	g := newFixture(t)
	if plain, err := g.connect(t, g.token("alice", "notes:read")).ListTools(context.Background(), nil); err != nil || plain.CacheScope == "private" {
		t.Fatalf("an unfiltered list is marked %q (%v)", plain.CacheScope, err)
	}
}

// Existing HTTP middleware that reads the SDK's TokenInfo from the request
// context keeps working behind Protect.
func TestTokenInfoFromContext(t *testing.T) {
	f := newFixture(t)
	var seen *sdkauth.TokenInfo
	h := f.a.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = sdkauth.TokenInfoFromContext(r.Context()) }), nil)
	_ = h
	// Protect's inner handler is the SDK's RequireBearerToken: use the
	// Protector's own chain.
	s := mcp.NewServer(&mcp.Implementation{Name: "x", Version: "1"}, nil)
	p := gosdk.New(f.a, s)
	probe := p.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = sdkauth.TokenInfoFromContext(r.Context()) }))
	req := httptest.NewRequest("GET", f.url, nil)
	req.Header.Set("Authorization", "Bearer "+f.token("alice", "notes:read"))
	probe.ServeHTTP(httptest.NewRecorder(), req)
	if seen == nil || seen.UserID != f.as.URL+" alice" || seen.Scopes[0] != "notes:read" || seen.Expiration.IsZero() {
		t.Fatalf("TokenInfo %+v", seen)
	}
}

// A token mcpauth accepts within its clock leeway (exp 10 s ago) is not
// refused by the SDK's own expiry check with a bare 401.
func TestLeewayAgreesWithTheSDK(t *testing.T) {
	f := newFixture(t)
	tok := f.as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{f.url}, Scopes: []string{"notes:read"}, TTL: -10 * time.Second})
	status, _, body := f.post(t, tok, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, nil)
	if status != 200 {
		t.Fatalf("initialize with a token inside the leeway: %d %s", status, body)
	}
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// Orphaned sessions: past its session budget, a subject's initialize is
// refused before the go-sdk creates a session, so the SDK holds no more
// sessions than were bound.
func TestRefusedInitializeCreatesNoSession(t *testing.T) {
	f := newFixture(t)
	tok := f.token("alice", "notes:read")
	statuses := map[int]int{}
	for range 130 {
		status, _, _ := f.post(t, tok, initializeBody, nil)
		statuses[status]++
	}
	n := 0
	for range f.s.Sessions() {
		n++
	}
	if statuses[200] != 100 || statuses[503] != 30 || n != 100 {
		t.Fatalf("statuses %v; the go-sdk holds %d sessions, want 100", statuses, n)
	}
}

// Nesting: a 1 MiB body nested 900 deep (about 4 s of the go-sdk's
// decoder) is refused before the SDK reads it.
func TestDeepBodyRefusedBeforeTheSDK(t *testing.T) {
	f := newFixture(t)
	deep := strings.Repeat("[", 900) + strings.Repeat(" ", 1<<20-2000) + strings.Repeat("]", 900)
	status, _, body := f.post(t, f.token("alice", "notes:read"), `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{"a":`+deep+`}}}`, nil)
	if status != 400 || !strings.Contains(body, "deeper than 64") {
		t.Fatalf("a body nested 900 deep: %d %.200s", status, body)
	}
}

// CORS: a browser's preflight is never challenged by the SDK's bearer
// check that Protect wraps; with auth.CORS it is answered with what MCP
// clients send and read.
func TestCORSPreflight(t *testing.T) {
	f := newFixture(t)
	preflight := func(url string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", url, nil)
		req.Header.Set("Origin", "https://inspector.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,mcp-protocol-version,mcp-session-id")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight(f.url); resp.StatusCode == http.StatusUnauthorized {
		t.Fatalf("OPTIONS through gosdk.Protect: 401 %v", resp.Header)
	}
	srv := httptest.NewServer(auth.CORS{}.Handler(f.p.Protect(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return f.s }, nil))))
	defer srv.Close()
	resp := preflight(srv.URL)
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(allowed, "mcp-protocol-version") || !strings.Contains(allowed, "mcp-session-id") {
		t.Fatalf("preflight with auth.CORS: %d %v", resp.StatusCode, resp.Header)
	}
}

// Anonymous discovery on the go-sdk: the SDK's bearer check lets a listing
// without a token through; a call without one is 401 from mcpauth.
func TestAnonymousDiscovery(t *testing.T) {
	f := newFixtureWith(t, func(c *auth.Config) { c.AnonymousDiscovery = true })
	req, _ := http.NewRequest("POST", f.url, strings.NewReader(initializeBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("anonymous initialize: %d", resp.StatusCode)
	}
	send := func(body string) (int, string) {
		req, _ := http.NewRequest("POST", f.url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if status, body := send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`); status != 200 || !strings.Contains(body, "whoami") {
		t.Fatalf("anonymous tools/list: %d %s", status, body)
	}
	if status, _ := send(call("whoami")); status != 401 {
		t.Fatalf("anonymous tools/call: %d", status)
	}
}
