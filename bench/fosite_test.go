package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
)

// plainHasher compares client secrets as they are: fosite's default is
// bcrypt (tens of milliseconds a request), which would measure bcrypt,
// not the authorization server. mcpauth compares a SHA-256 in constant
// time; this is as cheap.
type plainHasher struct{}

func (plainHasher) Compare(_ context.Context, hash, data []byte) error {
	if subtle.ConstantTimeCompare(hash, data) != 1 {
		return errors.New("secret mismatch")
	}
	return nil
}
func (plainHasher) Hash(_ context.Context, data []byte) ([]byte, error) { return data, nil }

// fositeServer is ory/fosite configured for the flow mcpauth's benchmark
// runs: authorization code with PKCE (S256, enforced), JWT access tokens
// signed ES256 (RFC 9068 strategy), refresh tokens for offline_access, the
// in-memory store, one confidential client.
func fositeServer(tb testing.TB, redirect string) http.Handler {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	config := &fosite.Config{
		AccessTokenLifespan:            time.Hour,
		AuthorizeCodeLifespan:          10 * time.Minute,
		RefreshTokenLifespan:           30 * 24 * time.Hour,
		GlobalSecret:                   []byte("a-global-secret-of-32-bytes-long"),
		EnforcePKCE:                    true,
		EnablePKCEPlainChallengeMethod: false,
		AccessTokenIssuer:              "http://127.0.0.1",
		ClientSecretsHasher:            plainHasher{},
		RefreshTokenScopes:             []string{"offline_access"},
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
	}
	store := storage.NewMemoryStore()
	store.Clients["c"] = &fosite.DefaultClient{ID: "c", Secret: []byte("s"), RedirectURIs: []string{redirect},
		ResponseTypes: []string{"code"}, GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"notes:read", "offline_access"}, Audience: []string{"https://mcp.example.com/mcp"}}
	signer := &jwt.DefaultSigner{GetPrivateKey: func(context.Context) (interface{}, error) { return key, nil }}
	strategy := &compose.CommonStrategy{
		CoreStrategy: compose.NewOAuth2JWTStrategy(func(context.Context) (interface{}, error) { return key, nil }, compose.NewOAuth2HMACStrategy(config), config),
		Signer:       signer,
	}
	provider := compose.Compose(config, store, strategy,
		compose.OAuth2AuthorizeExplicitFactory, compose.OAuth2RefreshTokenGrantFactory, compose.OAuth2PKCEFactory)
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := provider.NewAuthorizeRequest(ctx, r)
		if err != nil {
			provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		for _, s := range ar.GetRequestedScopes() { // auto-approved, as mcpauth's AutoApprove
			ar.GrantScope(s)
		}
		ar.GrantAudience("https://mcp.example.com/mcp")
		session := &oauth2.JWTSession{JWTClaims: &jwt.JWTClaims{Subject: "dev-user"}, JWTHeader: &jwt.Headers{}, Subject: "dev-user"}
		resp, err := provider.NewAuthorizeResponse(ctx, ar, session)
		if err != nil {
			provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		provider.WriteAuthorizeResponse(ctx, w, ar, resp)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := provider.NewAccessRequest(ctx, r, &oauth2.JWTSession{JWTClaims: &jwt.JWTClaims{}, JWTHeader: &jwt.Headers{}})
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		resp, err := provider.NewAccessResponse(ctx, ar)
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		provider.WriteAccessResponse(ctx, w, ar, resp)
	})
	return mux
}

// authorizeAndRedeem returns the issue and redeem steps of the code flow
// against h, as BenchmarkAuthorizationServer runs them for each server.
func authorizeAndRedeem(tb testing.TB, h http.Handler, authorize string, form func(code string) url.Values) (issue func() string, redeem func(code string)) {
	issue = func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", authorize, nil))
		loc, _ := url.Parse(rec.Header().Get("Location"))
		code := loc.Query().Get("code")
		if code == "" {
			tb.Fatalf("no code: %d %s %s", rec.Code, rec.Header().Get("Location"), rec.Body)
		}
		return code
	}
	redeem = func(code string) {
		req := httptest.NewRequest("POST", "/token", strings.NewReader(form(code).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("c", "s")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "refresh_token") {
			tb.Fatalf("redeem: %d %s", rec.Code, rec.Body.String())
		}
	}
	return issue, redeem
}
