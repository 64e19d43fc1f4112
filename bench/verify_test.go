package bench

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"
)

// BenchmarkVerify verifies one token per algorithm with every implementation,
// keys in hand (each warmed once), plus raw jwx parse-and-verify and raw
// crypto as the floor.
func BenchmarkVerify(b *testing.B) {
	is := newIssuer(b)
	for _, alg := range algs {
		tok := is.token(b, alg.kid, nil)
		vs := append([]verifier{mcpauthVerifier(b, is, false), mcpauthVerifier(b, is, true)}, peers(b, is, alg.name)...)
		for _, v := range vs {
			if err := v.verify(context.Background(), tok); err != nil {
				b.Fatalf("%s refused a valid %s token: %v", v.name, alg.name, err)
			}
			b.Run(alg.name+"/"+v.name, func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if err := v.verify(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		k := is.keys[alg.kid]
		b.Run(alg.name+"/jwx-jwt.Parse", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwt.Parse([]byte(tok), jwt.WithKey(k.alg, k.public), jwt.WithValidate(true), jwt.WithAudience(resource), jwt.WithIssuer(is.url)); err != nil {
					b.Fatal(err)
				}
			}
		})
		i := strings.LastIndexByte(tok, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
		input := []byte(tok[:i])
		b.Run(alg.name+"/raw-crypto", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !rawVerify(alg.name, k.raw, input, sig) {
					b.Fatal("raw verify failed")
				}
			}
		})
	}
}

// BenchmarkVerifyPaired measures mcpauth's uncached verification and each
// peer against raw crypto as pairs: every iteration verifies the token both
// ways back to back and times each, so a machine whose speed drifts (a
// shared virtual machine) slows both sides of a pair alike. It reports the
// ratio of the sums as x-raw; ns/op is the pair's.
func BenchmarkVerifyPaired(b *testing.B) {
	is := newIssuer(b)
	for _, alg := range algs {
		tok := is.token(b, alg.kid, nil)
		k := is.keys[alg.kid]
		i := strings.LastIndexByte(tok, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
		input := []byte(tok[:i])
		for _, v := range append([]verifier{mcpauthVerifier(b, is, false)}, peers(b, is, alg.name)...) {
			if err := v.verify(context.Background(), tok); err != nil {
				b.Fatalf("%s refused a valid %s token: %v", v.name, alg.name, err)
			}
			b.Run(alg.name+"/"+v.name, func(b *testing.B) {
				ctx := context.Background()
				var raw, impl time.Duration
				for b.Loop() {
					t0 := time.Now()
					if !rawVerify(alg.name, k.raw, input, sig) {
						b.Fatal("raw verify failed")
					}
					t1 := time.Now()
					if err := v.verify(ctx, tok); err != nil {
						b.Fatal(err)
					}
					raw, impl = raw+t1.Sub(t0), impl+time.Since(t1)
				}
				b.ReportMetric(float64(impl)/float64(raw), "x-raw")
			})
		}
	}
}
