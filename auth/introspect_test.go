package auth_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
)

// introspectionServer answers RFC 7662 requests from a table of tokens and
// counts calls; it requires client_secret_basic credentials.
type introspectionServer struct {
	responses map[string]map[string]any
	calls     atomic.Int64
	down      atomic.Bool
}

func (s *introspectionServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	if s.down.Load() {
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != "rs" || secret != "rs-secret" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.PostFormValue("token_type_hint") != "access_token" {
		http.Error(w, "bad hint", 400)
		return
	}
	resp, ok := s.responses[r.PostFormValue("token")]
	if !ok {
		resp = map[string]any{"active": false}
	}
	json.NewEncoder(w).Encode(resp)
}

func TestIntrospection(t *testing.T) {
	as := newTestAS(t)
	now := time.Now()
	is := &introspectionServer{responses: map[string]map[string]any{
		"opaque-good": {"active": true, "sub": "user-9", "client_id": "cli", "aud": resource, "iss": as.URL,
			"exp": float64(now.Add(time.Hour).Unix()), "scope": "notes:read notes:write"},
		"opaque-other-aud": {"active": true, "sub": "user-9", "aud": "https://other.example", "exp": float64(now.Add(time.Hour).Unix()), "scope": "notes:read"},
		"opaque-evil-iss":  {"active": true, "sub": "user-9", "aud": resource, "iss": "https://evil.example", "exp": float64(now.Add(time.Hour).Unix()), "scope": "notes:read"},
		"opaque-no-exp":    {"active": true, "sub": "user-9", "aud": resource, "scope": "notes:read"},
	}}
	srv := httptest.NewServer(is)
	defer srv.Close()
	a := newAuth(t, as, func(c *auth.Config) {
		c.Tokens.Introspection = &auth.Introspection{Endpoint: srv.URL, ClientID: "rs", ClientSecret: "rs-secret", Issuer: as.URL}
	})

	tok, err := verify(a, "opaque-good")
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Introspected || tok.Subject != "user-9" || tok.ClientID != "cli" || tok.Scopes.String() != "notes:read notes:write" {
		t.Fatalf("token = %+v", tok)
	}
	if _, err := verify(a, "opaque-good"); err != nil || is.calls.Load() != 1 {
		t.Fatalf("active result not cached: %d calls, %v", is.calls.Load(), err)
	}
	for token, want := range map[string]auth.Reason{
		"opaque-revoked":   auth.ReasonTokenInactive,
		"opaque-other-aud": auth.ReasonAudienceMismatch,
		"opaque-evil-iss":  auth.ReasonIssuerUntrusted,
		"opaque-no-exp":    auth.ReasonExpired,
	} {
		if _, err := verify(a, token); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %s", token, err, want)
		}
	}
	before := is.calls.Load()
	verify(a, "opaque-revoked")
	if is.calls.Load() != before+1 {
		t.Errorf("inactive result was cached")
	}
	is.down.Store(true)
	rec := httptest.NewRecorder()
	protect(a, echo).ServeHTTP(rec, bearer("opaque-while-down"))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("introspection endpoint down: %d, want 503 with Retry-After", rec.Code)
	}
	// A JWT still goes to the key set, not to introspection.
	if _, err := verify(a, as.mint("rsa-1", as.claims(resource, "notes:read"), nil)); err != nil {
		t.Fatalf("JWT with introspection configured: %v", err)
	}
}
