package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
)

const rateWindow = 2 * time.Second

// BenchmarkRotation rotates the signing key while 1,000 goroutines hammer
// each implementation with tokens under the new key, and reports JWKS
// fetches and failed requests per rotation. The rotations are spaced wider
// than mcpauth's refresh rate window (set to 2 s here, 10 s by default), as
// real rotations are.
func BenchmarkRotation(b *testing.B) {
	for _, name := range []string{"mcpauth", "auth0-go-jwt-middleware", "golang-jwt+keyfunc", "go-oidc"} {
		b.Run(name, func(b *testing.B) {
			is := newIssuer(b)
			var v verifier
			switch name {
			case "mcpauth":
				v = mcpauthVerifier(b, is, true, func(c *auth.Config) { c.Tokens.KeyRefreshMinGap = rateWindow })
			case "auth0-go-jwt-middleware":
				v = auth0Verifier(b, is, "RS256")
			case "golang-jwt+keyfunc":
				v = golangJWTVerifier(b, is, "RS256")
			default:
				v = oidcVerifier(b, is, "RS256")
			}
			if err := v.verify(context.Background(), is.token(b, "rs-1", nil)); err != nil {
				b.Fatal(err)
			}
			var failed, fetches int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				time.Sleep(rateWindow + 500*time.Millisecond)
				kid := is.rotate()
				tokens := make([]string, 16)
				for j := range tokens {
					tokens[j] = is.token(b, kid, map[string]any{"jti": fmt.Sprint(kid, j)})
				}
				before := is.fetches.Load()
				b.StartTimer()
				var wg sync.WaitGroup
				var fails atomic.Int64
				for g := range 1000 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if v.verify(context.Background(), tokens[g%len(tokens)]) != nil {
							fails.Add(1)
						}
					}()
				}
				wg.Wait()
				failed += fails.Load()
				fetches += is.fetches.Load() - before
			}
			b.ReportMetric(float64(failed)/float64(b.N), "failed/rotation")
			b.ReportMetric(float64(fetches)/float64(b.N), "fetches/rotation")
		})
	}
}
