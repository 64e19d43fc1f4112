package auth_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/expvarmetrics"
)

var noop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

type discardWriter struct {
	h    http.Header
	code int // the last status written
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }

// BenchmarkMiddlewareCached measures the whole middleware for a token seen
// before: header parsing, the validated-token cache, scope check, context;
// without an Observer (what nearly every request pays), and with the expvar
// one.
func BenchmarkMiddlewareCached(b *testing.B) {
	as := newTestAS(b)
	for _, obs := range []struct {
		name string
		o    auth.Observer
	}{{"no-observer", nil}, {"expvar", expvarmetrics.New()}} {
		a := newAuth(b, as, func(c *auth.Config) { c.Observer = obs.o })
		h := a.Middleware(noop)
		r := bearer(as.mint("rsa-1", as.claims(resource, "notes:read"), nil))
		r.Header.Set("Content-Type", "application/json")
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, r)
		b.Run(obs.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

var benchAlgs = []struct{ name, kid string }{{"RS256", "rsa-1"}, {"ES256", "ec-1"}, {"EdDSA", "ed-1"}}

// BenchmarkVerifyUncached measures full verification of one token with the
// key in hand (token cache disabled), beside jwx's own jwt.Parse with the
// same key as the reference.
func BenchmarkVerifyUncached(b *testing.B) {
	as := newTestAS(b)
	v := newVerifier(b, as, func(c *auth.VerifierConfig) { c.TokenCacheTTL = -1 })
	for _, alg := range benchAlgs {
		tok := as.mint(alg.kid, as.claims(resource, "notes:read notes:write"), nil)
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
		b.Run("mcpauth/"+alg.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		key := as.PublicKey(alg.kid)
		b.Run("jwx-jwt.Parse/"+alg.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwt.Parse([]byte(tok), jwt.WithKey(jwa.SignatureAlgorithm(alg.name), key), jwt.WithValidate(true), jwt.WithAudience(resource)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	tok := as.mint("rsa-1", as.claims(resource, "notes:read"), nil)
	i := strings.LastIndexByte(tok, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	pub := as.PublicKey("rsa-1").(*rsa.PublicKey)
	b.Run("raw-crypto/RS256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sum := sha256.Sum256([]byte(tok[:i]))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMiddlewareUncached measures the middleware with the token cache
// disabled, so every request pays for the signature.
func BenchmarkMiddlewareUncached(b *testing.B) {
	as := newTestAS(b)
	a := newAuth(b, as, func(c *auth.Config) { c.Tokens.TokenCacheTTL = -1 })
	h := a.Middleware(noop)
	for _, alg := range benchAlgs {
		r := bearer(as.mint(alg.kid, as.claims(resource, "notes:read"), nil))
		b.Run(alg.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
