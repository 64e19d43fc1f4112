package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"

	"github.com/mcpauth/mcpauth/auth"
)

// verifier is one implementation under comparison: a function that accepts
// or refuses a raw token, and an HTTP middleware built the way its users do.
type verifier struct {
	name       string
	verify     func(ctx context.Context, tok string) error
	middleware func(next http.Handler) http.Handler
}

func newMCPAuth(tb testing.TB, is *issuer, cached bool, mutate ...func(*auth.Config)) *auth.Authenticator {
	cfg := auth.Config{Resource: resource, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: is.url}}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if !cached {
		cfg.Tokens.TokenCacheTTL = -1
	}
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := auth.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

func mcpauthVerifier(tb testing.TB, is *issuer, cached bool, mutate ...func(*auth.Config)) verifier {
	a := newMCPAuth(tb, is, cached, mutate...)
	// The same verifier on its own, as auth.NewVerifier builds it from the
	// same settings, for the verify-only rows.
	cfg := auth.Config{Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: is.url}}}}
	if !cached {
		cfg.Tokens.TokenCacheTTL = -1
	}
	for _, m := range mutate {
		m(&cfg)
	}
	cfg.Tokens.Audiences = []string{resource}
	v, err := auth.NewVerifier(context.Background(), cfg.Tokens)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.Close() })
	name := "mcpauth-uncached"
	if cached {
		name = "mcpauth-cached"
	}
	return verifier{name: name, verify: func(ctx context.Context, tok string) error { _, err := v.Verify(ctx, tok); return err }, middleware: a.Middleware}
}

// bearer is the token extraction the hand-written peer middlewares use.
func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func wrap(verify func(ctx context.Context, tok string) error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := verify(r.Context(), bearer(r)); err != nil {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// auth0Verifier: github.com/auth0/go-jwt-middleware/v2 with its JWKS caching provider.
func auth0Verifier(tb testing.TB, is *issuer, alg string) verifier {
	u, _ := url.Parse(is.url)
	provider := jwks.NewCachingProvider(u, 5*time.Minute)
	v, err := validator.New(provider.KeyFunc, validator.SignatureAlgorithm(alg), is.url, []string{resource})
	if err != nil {
		tb.Fatal(err)
	}
	mw := jwtmiddleware.New(v.ValidateToken)
	return verifier{name: "auth0-go-jwt-middleware", verify: func(ctx context.Context, tok string) error { _, err := v.ValidateToken(ctx, tok); return err },
		middleware: mw.CheckJWT}
}

// golangJWTVerifier: github.com/golang-jwt/jwt/v5 with github.com/MicahParks/keyfunc/v3.
func golangJWTVerifier(tb testing.TB, is *issuer, alg string) verifier {
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	k, err := keyfunc.NewDefaultCtx(ctx, []string{is.url + "/jwks"})
	if err != nil {
		tb.Fatal(err)
	}
	verify := func(ctx context.Context, tok string) error {
		_, err := jwt.Parse(tok, k.Keyfunc, jwt.WithValidMethods([]string{alg}), jwt.WithAudience(resource), jwt.WithIssuer(is.url), jwt.WithExpirationRequired())
		return err
	}
	return verifier{name: "golang-jwt+keyfunc", verify: verify, middleware: wrap(verify)}
}

// oidcVerifier: github.com/coreos/go-oidc/v3 with its remote key set.
func oidcVerifier(tb testing.TB, is *issuer, alg string) verifier {
	ks := oidc.NewRemoteKeySet(context.Background(), is.url+"/jwks")
	v := oidc.NewVerifier(is.url, ks, &oidc.Config{ClientID: resource, SupportedSigningAlgs: []string{alg}})
	verify := func(ctx context.Context, tok string) error { _, err := v.Verify(ctx, tok); return err }
	return verifier{name: "go-oidc", verify: verify, middleware: wrap(verify)}
}

func peers(tb testing.TB, is *issuer, alg string) []verifier {
	return []verifier{auth0Verifier(tb, is, alg), golangJWTVerifier(tb, is, alg), oidcVerifier(tb, is, alg)}
}
