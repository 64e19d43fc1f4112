package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/clienttest"
)

// BenchmarkDPoP measures what DPoP costs a resource, as pairs (each
// iteration times both sides back to back, a fresh proof made untimed):
//
//   - request: a whole middleware request with a DPoP-bound token (cached)
//     and its proof, against the same request with a bearer token (cached);
//     x-bearer is the ratio.
//   - check: the proof check alone (an ES256 signature, the claims, the
//     replay memory), against an uncached ES256 access token verification;
//     x-token is the ratio.
func BenchmarkDPoP(b *testing.B) {
	is := newIssuer(b)
	k := clienttest.NewKey()
	boundTok := is.token(b, "es-1", map[string]any{"cnf": map[string]any{"jkt": k.JKT}})
	bearerTok := is.token(b, "es-1", nil)
	a := newMCPAuth(b, is, true, func(c *auth.Config) { c.DPoP = &auth.DPoPConfig{} })
	h := a.Middleware(trivial)
	bearerReq := httptest.NewRequest(http.MethodPost, resource, nil)
	bearerReq.Header.Set("Authorization", "Bearer "+bearerTok)
	dpopReq := httptest.NewRequest(http.MethodPost, resource, nil)
	dpopReq.Header.Set("Authorization", "DPoP "+boundTok)
	serve := func(r *http.Request) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code/100 != 2 {
			b.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
	}
	dpopReq.Header.Set("DPoP", k.Proof("POST", resource, boundTok, "", nil))
	serve(dpopReq)
	serve(bearerReq)
	b.Run("request/ES256", func(b *testing.B) {
		var bearer, dpop time.Duration
		for b.Loop() {
			dpopReq.Header.Set("DPoP", k.Proof("POST", resource, boundTok, "", nil))
			t0 := time.Now()
			serve(bearerReq)
			t1 := time.Now()
			serve(dpopReq)
			bearer, dpop = bearer+t1.Sub(t0), dpop+time.Since(t1)
		}
		b.ReportMetric(float64(dpop)/float64(b.N)/1e3, "dpop-µs")
		b.ReportMetric(float64(bearer)/float64(b.N)/1e3, "bearer-µs")
		b.ReportMetric(float64(dpop)/float64(bearer), "x-bearer")
	})

	d, err := auth.NewDPoPVerifier(auth.DPoPConfig{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	v := mcpauthVerifier(b, is, false)
	b.Run("check/ES256", func(b *testing.B) {
		ctx := context.Background()
		var token, check time.Duration
		for b.Loop() {
			proof := k.Proof("POST", resource, boundTok, "", nil)
			t0 := time.Now()
			if err := v.verify(ctx, bearerTok); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := d.Verify(ctx, proof, "POST", resource, boundTok); err != nil {
				b.Fatal(err)
			}
			token, check = token+t1.Sub(t0), check+time.Since(t1)
		}
		b.ReportMetric(float64(check)/float64(b.N)/1e3, "proof-µs")
		b.ReportMetric(float64(token)/float64(b.N)/1e3, "token-µs")
		b.ReportMetric(float64(check)/float64(token), "x-token")
	})
}
