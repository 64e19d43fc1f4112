package auth_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/scopes"
)

// Keys pinned with NewStaticKeySet verify tokens with no fetch at all; a
// kid they do not hold is unknown (401), never a reason to fetch.
func TestStaticKeySet(t *testing.T) {
	as := newTestAS(t)
	keys, err := auth.NewStaticKeySet(as.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, as, func(c *auth.VerifierConfig) { c.Issuers = []auth.Issuer{{URL: as.URL, Keys: keys}} })
	for _, alg := range benchAlgs {
		if _, err := v.Verify(context.Background(), as.mint(alg.kid, as.claims(resource, "notes:read"), nil)); err != nil {
			t.Errorf("%s: %v", alg.name, err)
		}
	}
	as.newKey(authtest.KeyOptions{KeyID: "rotated-in", Algorithm: "ES256"})
	if _, err := v.Verify(context.Background(), as.mint("rotated-in", as.claims(resource, "notes:read"), nil)); !errors.Is(err, auth.ReasonKeyUnknown) {
		t.Fatalf("a kid the pinned set lacks: %v, want key_unknown", err)
	}
	if n := as.JWKSFetches(); n != 0 {
		t.Fatalf("%d key set fetches with pinned keys", n)
	}
	got, _ := keys.Keys(context.Background(), "ec-1", "ES256")
	if len(got) != 1 || got[0] == nil {
		t.Fatalf("Keys(ec-1, ES256) = %v", got)
	}
	if got, _ := keys.Keys(context.Background(), "ec-1", "RS256"); len(got) != 0 {
		t.Fatalf("an EC key offered for RS256: %v", got)
	}
}

// A key set document without a usable public signing key is refused when
// it is configured, not at the first token.
func TestStaticKeySetRefusesUselessDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":                  `<html>`,
		"no keys":                   `{"keys":[]}`,
		"a symmetric key only":      `{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}`,
		"an encryption key only":    `{"keys":[{"kty":"EC","use":"enc","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`,
		"a key of an unknown type":  `{"keys":[{"kty":"XYZ","kid":"x"}]}`,
		"a JWKS with a broken key":  `{"keys":[{"kty":"RSA","kid":"r","n":"!!","e":"AQAB"}]}`,
		"a single key, not a set":   `{"kty":"oct","k":"c2VjcmV0"}`,
		"an empty document":         ``,
		"a set of a private EC key": `{"keys":[{"kty":"EC","crv":"P-256","d":"!!"}]}`,
	} {
		if _, err := auth.NewStaticKeySet([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// keySetFunc is a KeySet of the caller's.
type keySetFunc func(ctx context.Context, kid, alg string) ([]crypto.PublicKey, error)

func (f keySetFunc) Keys(ctx context.Context, kid, alg string) ([]crypto.PublicKey, error) {
	return f(ctx, kid, alg)
}

// A KeySet of the caller's: its keys verify; its failure is the keys'
// unavailability (503, retry), not the token's fault; a key of the wrong
// kind, an HMAC secret above all, never verifies anything.
func TestCustomKeySet(t *testing.T) {
	as := newTestAS(t)
	tok := as.mint("ec-1", as.claims(resource, "notes:read"), nil)
	withKeys := func(ks auth.KeySet) *auth.Authenticator {
		return newAuth(t, as, func(c *auth.Config) { c.Tokens.Issuers = []auth.Issuer{{URL: as.URL, Keys: ks}} })
	}
	good := withKeys(keySetFunc(func(_ context.Context, kid, alg string) ([]crypto.PublicKey, error) {
		return []crypto.PublicKey{as.PublicKey(kid)}, nil
	}))
	if res := call(t, protect(good, echo), bearer(tok)); res.status != 200 {
		t.Fatalf("custom key set: %d %v", res.status, res.body)
	}
	down := withKeys(keySetFunc(func(context.Context, string, string) ([]crypto.PublicKey, error) {
		return nil, errors.New("vault sealed")
	}))
	if res := call(t, protect(down, echo), bearer(tok)); res.status != 503 || res.body["reason"] != "keyset_unavailable" || res.header.Get("Retry-After") == "" {
		t.Fatalf("key set down: %d %v %v", res.status, res.body, res.header)
	}
	for name, key := range map[string]crypto.PublicKey{
		"an HMAC secret (algorithm confusion)": []byte("secret"),
		"an RSA key for an ES256 token":        as.PublicKey("rsa-1"),
		"nil":                                  nil,
	} {
		a := withKeys(keySetFunc(func(context.Context, string, string) ([]crypto.PublicKey, error) { return []crypto.PublicKey{key}, nil }))
		if _, err := verify(a, tok); !errors.Is(err, auth.ReasonKeyUnknown) {
			t.Errorf("%s: %v, want key_unknown", name, err)
		}
	}
}

// A custom verifier's error that says nothing about the token (its store
// is down) is 503 verifier_failed and logged as an error with its cause:
// a 401 would send every client to sign in again, in a loop.
func TestVerifierFailureIsNotTheTokens(t *testing.T) {
	var buf bytes.Buffer
	fail := auth.TokenVerifierFunc(func(context.Context, string) (*auth.Token, error) {
		return nil, errors.New("redis: connection refused")
	})
	a, err := auth.New(context.Background(), auth.Config{Resource: resource, Verifier: fail, AuthorizationServers: []string{"https://as.example.com"},
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res := call(t, protect(a, echo), bearer("k-1"))
	if res.status != 503 || res.body["reason"] != "verifier_failed" || res.challenge != nil || res.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %v %v", res.status, res.body, res.header)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["level"] != "ERROR" || !strings.Contains(rec["error"].(string), "connection refused") {
		t.Fatalf("log record %s", buf.String())
	}
	if strings.Contains(res.rawChal+res.body["error_description"].(string), "redis") {
		t.Fatal("the cause reached the client")
	}

	// An *Error about the token keeps its reason.
	inactive := auth.TokenVerifierFunc(func(context.Context, string) (*auth.Token, error) {
		return nil, &auth.Error{Reason: auth.ReasonTokenInactive, Description: "revoked"}
	})
	b, err := auth.New(context.Background(), auth.Config{Resource: resource, Verifier: inactive, AuthorizationServers: []string{"https://as.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if res := call(t, protect(b, echo), bearer("k-1")); res.status != 401 || res.challenge["error"] != "invalid_token" {
		t.Fatalf("token_inactive: %d %v", res.status, res.body)
	}
}

// Check decides as the middleware does, writes nothing, and leaves the
// answer to WriteError; the decision is logged once and traced.
func TestCheck(t *testing.T) {
	as := newTestAS(t)
	var buf bytes.Buffer
	trace := auth.NewTrace(8)
	a := newAuth(t, as, func(c *auth.Config) { c.Trace, c.Logger = trace, slog.New(slog.NewJSONHandler(&buf, nil)) })
	tok, err := verify(a, as.mint("rsa-1", as.claims(resource, "notes:read"), nil))
	if err != nil || tok.Subject != "user-123" {
		t.Fatalf("valid token: %v %v", tok, err)
	}
	_, err = verify(a, as.mint("rsa-1", as.claims(resource, "calendar:read"), nil))
	if !errors.Is(err, auth.ReasonScopeInsufficient) {
		t.Fatalf("token without the baseline: %v", err)
	}
	r := httptest.NewRequest(http.MethodPost, resource, nil)
	rec := httptest.NewRecorder()
	a.WriteError(rec, r, err)
	if rec.Code != 403 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("WriteError: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d log records for one refusal: %s", n, buf.String())
	}
	ds := trace.Decisions()
	if len(ds) != 2 || ds[0].Allowed || ds[0].Reason != auth.ReasonScopeInsufficient || !ds[1].Allowed || ds[1].Status != 0 {
		t.Fatalf("trace %+v", ds)
	}
}

// Config.ErrorWriter answers every refusal, an MCP operation's too, and
// can keep the standard answer's challenge and JSON-RPC body.
func TestErrorWriter(t *testing.T) {
	as := newTestAS(t)
	var seen []auth.Reason
	var a *auth.Authenticator
	a = newAuth(t, as, func(c *auth.Config) {
		c.ErrorWriter = func(w http.ResponseWriter, r *http.Request, err *auth.Error) {
			seen = append(seen, err.Reason)
			w.Header().Set("X-Refused", string(err.Reason))
			a.WriteError(w, r, err)
		}
	})
	h := a.Protect(echo, func(method, name string) (scopes.Requirement, bool) {
		return scopes.All("notes:write"), name == "add_note"
	})
	res := call(t, h, httptest.NewRequest(http.MethodPost, resource, nil))
	if res.status != 401 || res.header.Get("X-Refused") != "token_missing" || res.challenge == nil {
		t.Fatalf("no token: %d %v", res.status, res.header)
	}
	r := httptest.NewRequest(http.MethodPost, resource, strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add_note"}}`))
	r.Header.Set("Authorization", "Bearer "+as.mint("rsa-1", as.claims(resource, "notes:read"), nil))
	res = call(t, h, r)
	rpcErr, _ := res.body["error"].(map[string]any)
	if res.status != 403 || res.header.Get("X-Refused") != "scope_insufficient" || res.body["id"] != float64(7) || rpcErr["code"] != float64(-32010) {
		t.Fatalf("step-up through the error writer: %d %v", res.status, res.body)
	}
	if len(seen) != 2 {
		t.Fatalf("error writer called for %v", seen)
	}
}
