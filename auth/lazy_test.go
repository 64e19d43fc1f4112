package auth_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
)

// An authorization server that is not up yet: without LazyDiscovery, New
// fails at once; with it, New returns, tokens get 503 keyset_unavailable
// with Retry-After (never a 401), and once the server is up discovery
// succeeds on its own and the same token is accepted.
func TestLazyDiscoveryWaitsForTheIssuer(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	issuer := "http://" + ln.Addr().String()
	ln.Close() // nothing listens yet
	cfg := auth.Config{Resource: "https://mcp.example.com/mcp", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: issuer}}}}
	if a, err := auth.New(context.Background(), cfg); err == nil {
		a.Close()
		t.Fatal("New succeeded without the issuer's metadata")
	}
	cfg.Tokens.LazyDiscovery = true
	a, err := auth.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New with LazyDiscovery: %v", err)
	}
	defer a.Close()
	as, err := authtest.New(authtest.Options{Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	tok := as.Mint(authtest.TokenRequest{Audience: []string{cfg.Resource}})
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	res := call(t, h, bearer(tok))
	if res.status != 503 || res.body["reason"] != "keyset_unavailable" || res.header.Get("Retry-After") == "" {
		t.Fatalf("before the issuer is up: %d %v %v", res.status, res.body, res.header)
	}
	ln, err = net.Listen("tcp", issuer[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: as}
	go srv.Serve(ln)
	defer srv.Close()
	deadline := time.Now().Add(10 * time.Second)
	for res = call(t, h, bearer(tok)); res.status != 200 && time.Now().Before(deadline); res = call(t, h, bearer(tok)) {
		time.Sleep(100 * time.Millisecond)
	}
	if res.status != 200 {
		t.Fatalf("after the issuer came up: %d %v", res.status, res.body)
	}
}
