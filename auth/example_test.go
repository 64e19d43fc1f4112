package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/scopes"
)

func ExampleReason() {
	for _, r := range []auth.Reason{auth.ReasonTokenMissing, auth.ReasonExpired, auth.ReasonScopeInsufficient, auth.ReasonKeysetUnavailable} {
		fmt.Printf("%s %d %q\n", r, r.Status(), r.OAuthError())
	}
	// Output:
	// token_missing 401 ""
	// expired 401 "invalid_token"
	// scope_insufficient 403 "insufficient_scope"
	// keyset_unavailable 503 ""
}

func ExampleAuthenticator_Protect() {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	const resource = "https://mcp.example.com/mcp"
	a, err := auth.New(context.Background(), auth.Config{
		Tokens:         auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}},
		Resource:       resource,
		BaselineScopes: []string{"notes:read"},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	h := a.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello", auth.TokenFromContext(r.Context()).Subject)
	}), nil)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, resource, nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))

	req := httptest.NewRequest(http.MethodPost, resource, nil)
	req.Header.Set("Authorization", "Bearer "+as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{resource}, Scopes: []string{"notes:read"}}))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 401 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="notes:read"
	// 200 hello alice
}

// apiKeys is a TokenVerifier for static API keys: a token type that is
// neither a JWT nor introspectable.
type apiKeys map[string]struct{ subject, scopes string }

func (k apiKeys) Verify(ctx context.Context, raw string) (*auth.Token, error) {
	entry, ok := k[raw] // a real store compares hashes in constant time
	if !ok {
		return nil, &auth.Error{Reason: auth.ReasonTokenInactive, Description: "unknown API key"}
	}
	t := auth.NewToken(raw, map[string]any{"kind": "api-key"})
	t.Subject, t.ClientID = entry.subject, "api-key"
	t.Scopes, _ = scopes.Parse(entry.scopes)
	return t, nil
}

// A custom TokenVerifier plugs another kind of token into the same HTTP
// layer: metadata, challenges, baseline and per-operation scopes, sessions,
// the trace.
func ExampleTokenVerifier() {
	const resource = "https://mcp.example.com/mcp"
	a, err := auth.New(context.Background(), auth.Config{
		Resource:             resource,
		Verifier:             apiKeys{"k-alice-123": {"alice", "notes:read"}},
		AuthorizationServers: []string{"https://auth.example.com"},
		BaselineScopes:       []string{"notes:read"},
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	h := a.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := auth.TokenFromContext(r.Context())
		fmt.Fprintln(w, "hello", t.Subject, t.Scopes, t.Claims()["kind"])
	}), nil)
	for _, key := range []string{"k-alice-123", "k-stolen"} {
		req := httptest.NewRequest(http.MethodPost, resource, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 hello alice notes:read api-key
	// 401 {"error":"invalid_token","error_description":"unknown API key","reason":"token_inactive"}
}

// NewVerifier alone validates tokens without any HTTP, for a transport of
// your own.
func ExampleNewVerifier() {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	const resource = "https://mcp.example.com/mcp"
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Audiences: []string{resource}, Issuers: []auth.Issuer{{URL: as.URL}}})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	t, err := v.Verify(context.Background(), as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{resource}, Scopes: []string{"notes:read"}}))
	fmt.Println(t.Subject, t.Scopes, err)
	_, err = v.Verify(context.Background(), as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{"https://other.example.com/mcp"}}))
	var ae *auth.ClaimError
	fmt.Println(errors.Is(err, auth.ReasonAudienceMismatch), errors.As(err, &ae) && ae.Actual[0] == "https://other.example.com/mcp")
	// Output:
	// alice notes:read <nil>
	// true true
}

// CORS around the whole MCP handler lets browser-based clients connect: the
// preflight is answered before any token or SDK is involved.
func ExampleCORS() {
	mcpHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	h := auth.CORS{}.Handler(mcpHandler) // around mcpgo.Protect or gosdk's Protector.Protect
	r := httptest.NewRequest("OPTIONS", "https://mcp.example.com/mcp", nil)
	r.Header.Set("Origin", "https://inspector.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Println(rec.Code, rec.Header().Get("Access-Control-Allow-Headers"))
	// Output: 204 Authorization, Content-Type, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID
}

// Check decides without writing: for a handler that answers some refusals
// its own way. WriteError gives the standard answer, with the challenge
// MCP clients sign in with.
func ExampleAuthenticator_Check() {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	const resource = "https://mcp.example.com/mcp"
	a, err := auth.New(context.Background(), auth.Config{
		Resource: resource,
		Tokens:   auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := a.Check(r)
		switch {
		case errors.Is(err, auth.ReasonTokenMissing) && r.Header.Get("Accept") == "text/html":
			http.Redirect(w, r, "/sign-in", http.StatusFound) // a browser: a page of your own
		case err != nil:
			a.WriteError(w, r, err)
		default:
			fmt.Fprintln(w, "hello", t.Subject)
		}
	})
	for _, accept := range []string{"text/html", "application/json"} {
		req := httptest.NewRequest(http.MethodGet, resource, nil)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("Location")+rec.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// 302 /sign-in
	// 401 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
}

// Keys pinned in configuration (air-gapped, or an issuer whose JWKS URL
// this server cannot reach) verify tokens without any fetch.
func ExampleNewStaticKeySet() {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	keys, err := auth.NewStaticKeySet(as.JWKS()) // in production: the JWKS document from your configuration
	if err != nil {
		panic(err)
	}
	const resource = "https://mcp.example.com/mcp"
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Issuers:   []auth.Issuer{{URL: as.URL, Keys: keys}},
		Audiences: []string{resource},
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	t, err := v.Verify(context.Background(), as.Mint(authtest.TokenRequest{Subject: "alice", Audience: []string{resource}}))
	fmt.Println(t.Subject, err, as.JWKSFetches())
	// Output:
	// alice <nil> 0
}

// A TokenVerifierFunc whose store is down: its plain error is not the
// token's fault, so clients are told to retry (503), not to sign in again.
func ExampleTokenVerifierFunc() {
	const resource = "https://mcp.example.com/mcp"
	lookup := auth.TokenVerifierFunc(func(ctx context.Context, raw string) (*auth.Token, error) {
		return nil, errors.New("api key store: connection refused")
	})
	a, err := auth.New(context.Background(), auth.Config{
		Resource:             resource,
		Verifier:             lookup,
		AuthorizationServers: []string{"https://auth.example.com"},
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	req := httptest.NewRequest(http.MethodPost, resource, nil)
	req.Header.Set("Authorization", "Bearer k-alice-123")
	rec := httptest.NewRecorder()
	a.Protect(http.NotFoundHandler(), nil).ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Header().Get("Retry-After"), " ", rec.Body.String())
	// Output:
	// 503 10 {"error":"verifier_failed","error_description":"the token cannot be checked now; retry later","reason":"verifier_failed"}
}

// A DPoP proof checked as a resource checks it: for this request's method
// and URL, with the hash of the access token it accompanies; a proof
// works once.
func ExampleDPoPVerifier_Verify() {
	d, err := auth.NewDPoPVerifier(auth.DPoPConfig{}, nil)
	if err != nil {
		panic(err)
	}
	client := clienttest.NewKey() // the client's key pair, as oauth4webapi holds it
	const url = "https://mcp.example.com/mcp"
	proof := client.Proof("POST", url, "the-access-token", "", nil)
	p, err := d.Verify(context.Background(), proof, "POST", url, "the-access-token")
	fmt.Println(err == nil && p.JKT == client.JKT) // what the token's cnf.jkt must be
	_, err = d.Verify(context.Background(), proof, "POST", url, "the-access-token")
	fmt.Println(errors.Is(err, auth.ReasonDPoPProofInvalid))
	// Output:
	// true
	// true
}
