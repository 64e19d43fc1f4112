package auth_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/challenge"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/store"
)

// dpopServer is a real HTTP server at resource's path, protected by an
// Authenticator with cfg's DPoP, trusting as.
type dpopServer struct {
	url string
	as  *authtest.Server
}

func newDPoPServer(t *testing.T, dpop *auth.DPoPConfig) *dpopServer {
	t.Helper()
	as := authtest.Start(authtest.Options{KeyAlgorithm: "ES256"})
	t.Cleanup(as.Close)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	a, err := auth.New(context.Background(), auth.Config{Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}},
		Resource: srv.URL + "/mcp", DPoP: dpop, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	mux.Handle("/mcp", a.Middleware(echo))
	mux.Handle("/.well-known/", a.MetadataHandler())
	return &dpopServer{url: srv.URL + "/mcp", as: as}
}

// bound mints a token bound to k.
func (s *dpopServer) bound(k *clienttest.Key) string {
	return s.as.Mint(authtest.TokenRequest{Audience: []string{s.url}, Claims: map[string]any{"cnf": map[string]any{"jkt": k.JKT}}})
}

type dpopResult struct {
	status    int
	reason    string
	errorCode string   // the first challenge's error
	schemes   []string // of the WWW-Authenticate challenges
	nonce     string
	dpopChal  string
}

func (s *dpopServer) do(t *testing.T, method, scheme, tok string, proofs ...string) dpopResult {
	t.Helper()
	req, _ := http.NewRequest(method, s.url, strings.NewReader(`{}`))
	if tok != "" {
		req.Header.Set("Authorization", scheme+" "+tok)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	r := dpopResult{status: resp.StatusCode, reason: body.Reason, nonce: resp.Header.Get("DPoP-Nonce")}
	for i, c := range resp.Header.Values("WWW-Authenticate") {
		scheme, _, _ := strings.Cut(c, " ")
		r.schemes = append(r.schemes, scheme)
		p, err := challenge.Parse(c)
		if err != nil {
			t.Fatalf("malformed challenge %q: %v", c, err)
		}
		if i == 0 {
			r.errorCode = p["error"]
		}
		if scheme == "DPoP" {
			r.dpopChal = c
		}
	}
	return r
}

func TestDPoPBoundTokens(t *testing.T) {
	s := newDPoPServer(t, &auth.DPoPConfig{})
	victim, attacker := clienttest.NewKey(), clienttest.NewKey()
	tok := s.bound(victim)
	proof := func(k *clienttest.Key, method, htu, token string) string { return k.Proof(method, htu, token, "", nil) }

	if r := s.do(t, "POST", "DPoP", tok, proof(victim, "POST", s.url, tok)); r.status != 200 {
		t.Fatalf("a bound token with its proof: %+v", r)
	}
	if r := s.do(t, "POST", "dpop", tok, proof(victim, "POST", s.url, tok)); r.status != 200 {
		t.Fatalf("the scheme name is case-insensitive: %+v", r)
	}
	// The htu is compared normalized: case of scheme and host, default port.
	if r := s.do(t, "POST", "DPoP", tok, proof(victim, "POST", strings.Replace(s.url, "http://", "HTTP://", 1)+"?q=1", tok)); r.status != 200 {
		t.Fatalf("htu in another case with a query: %+v", r)
	}
	replayed := proof(victim, "POST", s.url, tok)
	s.do(t, "POST", "DPoP", tok, replayed)
	stale := victim.Proof("POST", s.url, tok, "", func(_, c map[string]any) { c["iat"] = time.Now().Add(-10 * time.Minute).Unix() })
	future := victim.Proof("POST", s.url, tok, "", func(_, c map[string]any) { c["iat"] = time.Now().Add(10 * time.Minute).Unix() })
	withPrivate := victim.Proof("POST", s.url, tok, "", func(h, _ map[string]any) { h["jwk"] = victim.PrivateJWK() })
	unsigned := victim.Proof("POST", s.url, tok, "", func(h, _ map[string]any) { h["alg"] = "none" })
	hmac := victim.Proof("POST", s.url, tok, "", func(h, _ map[string]any) { h["alg"] = "HS256" })
	wrongTyp := victim.Proof("POST", s.url, tok, "", func(h, _ map[string]any) { h["typ"] = "JWT" })
	noJTI := victim.Proof("POST", s.url, tok, "", func(_, c map[string]any) { delete(c, "jti") })
	attackerTok := s.bound(attacker)
	unbound := s.as.Mint(authtest.TokenRequest{Audience: []string{s.url}})
	mtls := s.as.Mint(authtest.TokenRequest{Audience: []string{s.url}, Claims: map[string]any{"cnf": map[string]any{"x5t#S256": "abc"}}})

	for _, c := range []struct {
		name, scheme, tok string
		proofs            []string
		reason, code      string
	}{
		{"stolen bound token sent as a bearer token", "Bearer", tok, nil, "dpop_required", "invalid_token"},
		{"stolen bound token with no proof", "DPoP", tok, nil, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"stolen bound token with a proof of the attacker's own key", "DPoP", tok, []string{proof(attacker, "POST", s.url, tok)}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"proof for another URL", "DPoP", tok, []string{proof(victim, "POST", "https://other.example/mcp", tok)}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"proof for another method", "DPoP", tok, []string{proof(victim, "GET", s.url, tok)}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"proof replayed", "DPoP", tok, []string{replayed}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"proof made for another token (ath)", "DPoP", tok, []string{proof(victim, "POST", s.url, attackerTok)}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"proof made 10 minutes ago", "DPoP", tok, []string{stale}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"proof dated 10 minutes ahead (made in advance)", "DPoP", tok, []string{future}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"proof carrying the private key", "DPoP", tok, []string{withPrivate}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"unsigned proof (alg none)", "DPoP", tok, []string{unsigned}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"HMAC proof keyed with the public key", "DPoP", tok, []string{hmac}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"proof with typ JWT", "DPoP", tok, []string{wrongTyp}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"proof without jti", "DPoP", tok, []string{noJTI}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"two proofs", "DPoP", tok, []string{proof(victim, "POST", s.url, tok), proof(victim, "POST", s.url, tok)}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"unbound token sent with the DPoP scheme", "DPoP", unbound, []string{proof(victim, "POST", s.url, unbound)}, "dpop_proof_invalid", "invalid_dpop_proof"},
		{"token bound to an mTLS certificate (cnf x5t#S256)", "Bearer", mtls, nil, "claim_invalid", "invalid_token"},
		{"garbage proof", "DPoP", tok, []string{"not.a.jwt"}, "dpop_proof_invalid", "invalid_dpop_proof"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(t, "POST", c.scheme, c.tok, c.proofs...)
			if r.status != 401 || r.reason != c.reason || r.errorCode != c.code {
				t.Fatalf("got %+v, want 401 %s %s", r, c.reason, c.code)
			}
			if len(r.schemes) != 2 || r.schemes[0] != "Bearer" || r.schemes[1] != "DPoP" || !strings.Contains(r.dpopChal, `algs="ES256`) {
				t.Fatalf("challenges %v %q: want Bearer and DPoP with algs", r.schemes, r.dpopChal)
			}
		})
	}
	if r := s.do(t, "POST", "Bearer", unbound); r.status != 200 {
		t.Fatalf("bearer tokens keep working beside DPoP: %+v", r)
	}
}

func TestDPoPNonces(t *testing.T) {
	clock := newClock()
	key := []byte(strings.Repeat("k", 32))
	s := newDPoPServer(t, &auth.DPoPConfig{NonceKey: key})
	k := clienttest.NewKey()
	tok := s.bound(k)
	r := s.do(t, "POST", "DPoP", tok, k.Proof("POST", s.url, tok, "", nil))
	if r.status != 401 || r.reason != "dpop_nonce_required" || r.errorCode != "use_dpop_nonce" || r.nonce == "" {
		t.Fatalf("a proof without a nonce: %+v", r)
	}
	if ok := s.do(t, "POST", "DPoP", tok, k.Proof("POST", s.url, tok, r.nonce, nil)); ok.status != 200 {
		t.Fatalf("retry with the server's nonce: %+v", ok)
	}
	// A nonce of this key from 10 minutes ago (a proof made in advance).
	old, _ := auth.NewDPoPVerifier(auth.DPoPConfig{NonceKey: key}, func() time.Time { return clock.Now().Add(-10 * time.Minute) })
	if r := s.do(t, "POST", "DPoP", tok, k.Proof("POST", s.url, tok, old.Nonce(), nil)); r.status != 401 || r.reason != "dpop_nonce_required" || r.nonce == "" {
		t.Fatalf("a stale nonce: %+v", r)
	}
	// A nonce made with another key (forged).
	other, _ := auth.NewDPoPVerifier(auth.DPoPConfig{NonceKey: []byte(strings.Repeat("x", 32))}, nil)
	if r := s.do(t, "POST", "DPoP", tok, k.Proof("POST", s.url, tok, other.Nonce(), nil)); r.status != 401 || r.reason != "dpop_nonce_required" {
		t.Fatalf("a forged nonce: %+v", r)
	}
}

func TestDPoPRequired(t *testing.T) {
	s := newDPoPServer(t, &auth.DPoPConfig{Required: true})
	unbound := s.as.Mint(authtest.TokenRequest{Audience: []string{s.url}})
	r := s.do(t, "POST", "Bearer", unbound)
	if r.status != 401 || r.reason != "dpop_required" || len(r.schemes) != 1 || r.schemes[0] != "DPoP" {
		t.Fatalf("a bearer token where DPoP is required: %+v", r)
	}
	resp, err := http.Get(strings.Replace(s.url, "/mcp", "/.well-known/oauth-protected-resource/mcp", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var prm struct {
		Required bool     `json:"dpop_bound_access_tokens_required"`
		Algs     []string `json:"dpop_signing_alg_values_supported"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&prm)
	if !prm.Required || len(prm.Algs) == 0 {
		t.Fatalf("metadata: %+v", prm)
	}
}

// TestDPoPOff: without Config.DPoP, a bound token is refused (its binding
// could not be checked) and the DPoP scheme is not understood.
func TestDPoPOff(t *testing.T) {
	s := newDPoPServer(t, nil)
	k := clienttest.NewKey()
	tok := s.bound(k)
	if r := s.do(t, "POST", "Bearer", tok); r.status != 401 || r.reason != "dpop_required" {
		t.Fatalf("a bound token as a bearer token: %+v", r)
	}
	if r := s.do(t, "POST", "DPoP", tok, k.Proof("POST", s.url, tok, "", nil)); r.status != 401 || r.reason != "token_missing" || len(r.schemes) != 1 {
		t.Fatalf("the DPoP scheme where DPoP is off: %+v", r)
	}
}

// TestDPoPReplayStoreFull: proofs flooding the replay store fill it; then
// proofs are refused with 503, never accepted unchecked.
func TestDPoPReplayStoreFull(t *testing.T) {
	s := newDPoPServer(t, &auth.DPoPConfig{Replay: store.NewMemory(3, 1<<20)})
	k := clienttest.NewKey()
	tok := s.bound(k)
	for i := range 3 {
		if r := s.do(t, "POST", "DPoP", tok, k.Proof("POST", s.url, tok, "", nil)); r.status != 200 {
			t.Fatalf("proof %d: %+v", i, r)
		}
	}
	if r := s.do(t, "POST", "DPoP", tok, k.Proof("POST", s.url, tok, "", nil)); r.status != 503 || r.reason != "dpop_unavailable" {
		t.Fatalf("a proof the full replay store cannot remember: %+v", r)
	}
}

func TestDPoPConfigRefused(t *testing.T) {
	for _, c := range []auth.DPoPConfig{{Algorithms: []string{"HS256"}}, {Algorithms: []string{"none"}}, {Algorithms: []string{"ES257"}}, {NonceKey: []byte("short")}} {
		if _, err := auth.NewDPoPVerifier(c, nil); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
