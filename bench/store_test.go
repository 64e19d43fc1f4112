package bench

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/store"
	"github.com/mcpauth/mcpauth/store/redisstore"
	"github.com/mcpauth/mcpauth/store/storetest"
)

// BenchmarkAuthorizationServer measures the authorization-code core the
// development server and the proxy share, with the in-memory store and with
// a real Redis (redis-server on loopback): issuing a code (GET /authorize,
// auto-approved: validation, a stored code) and redeeming it (POST /token:
// the code taken once, PKCE, an access token signed, a refresh token
// stored).
func BenchmarkAuthorizationServer(b *testing.B) {
	addr, _ := storetest.StartRedis(b)
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const redirect = "http://127.0.0.1:5/callback"
	authorize := "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"c"}, "redirect_uri": {redirect}, "state": {"benchmark-state"},
		"scope": {"notes:read offline_access"}, "code_challenge": {oauthas.S256(verifier)}, "code_challenge_method": {"S256"}}.Encode()
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	}
	type server struct {
		name string
		h    http.Handler
	}
	var servers []server
	for _, st := range []struct {
		name  string
		store store.Store
	}{{"memory", store.NewMemory(10_000_000, 8<<30)}, {"redis", redisstore.New(rc, "bench:")}} { // bounds far above what a run issues
		as := authtest.Start(authtest.Options{AutoApprove: true, Store: st.store, KeyAlgorithm: "ES256", DefaultAudience: "https://mcp.example.com/mcp",
			Clients: []*registration.Client{registration.Static("c", "s", registration.Metadata{RedirectURIs: []string{"http://127.0.0.1/callback"},
				GrantTypes: []string{"authorization_code", "refresh_token"}}, registration.RedirectPolicy{})}})
		defer as.Close()
		servers = append(servers, server{"mcpauth-" + st.name, as})
	}
	servers = append(servers, server{"fosite-memory", fositeServer(b, redirect)})
	for _, s := range servers {
		issue, redeem := authorizeAndRedeem(b, s.h, authorize, form)
		b.Run(s.name+"/issue-code", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				issue()
			}
		})
		b.Run(s.name+"/redeem-code", func(b *testing.B) {
			codes := make([]string, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				if len(codes) == 0 {
					b.StopTimer()
					for range cap(codes) {
						codes = append(codes, issue())
					}
					b.StartTimer()
				}
				redeem(codes[len(codes)-1])
				codes = codes[:len(codes)-1]
			}
		})
	}
}
