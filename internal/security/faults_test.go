package security

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
)

// jwksFront serves the authorization server's key set, or fails in a chosen way.
type jwksFront struct {
	as   *authtest.Server
	mode atomic.Value // string
	stop chan struct{}
}

func (f *jwksFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode, _ := f.mode.Load().(string)
	switch mode {
	case "500":
		http.Error(w, "internal error", 500)
	case "garbage":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"keys":[{"kty":"RSA","n":"!!!"`)
	case "50 MB body":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"keys":[`)
		chunk := []byte(strings.Repeat(" ", 1<<20))
		for range 50 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	case "slow drip":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		for {
			select {
			case <-r.Context().Done():
				return
			case <-f.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			w.Write([]byte(" "))
			w.(http.Flusher).Flush()
		}
	case "timeout":
		select {
		case <-r.Context().Done():
		case <-f.stop:
		}
	default:
		resp, err := http.Get(f.as.URL + "/jwks")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, resp.Body)
	}
}

type clock struct{ t atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) Advance(d time.Duration) { c.t.Add(int64(d)) }

// TestFaults: while the key set fails in each way, tokens under cached keys
// keep passing, a token under an unknown key gets 503 within the configured
// timeout, and the verifier recovers when the key set does.
func TestFaults(t *testing.T) {
	const resource = "https://mcp.example.com/mcp"
	const fetchTimeout = time.Second
	for _, mode := range []string{"500", "garbage", "50 MB body", "slow drip", "timeout"} {
		t.Run("JWKS "+mode, func(t *testing.T) {
			as := authtest.Start(authtest.Options{})
			defer as.Close()
			front := &jwksFront{as: as, stop: make(chan struct{})}
			srv := httptest.NewServer(front)
			defer srv.Close()
			defer close(front.stop)
			clk := &clock{}
			clk.t.Store(time.Now().UnixNano())
			a, err := auth.New(context.Background(), auth.Config{
				Tokens:   auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL, JWKSURL: srv.URL}}, HTTPClient: &http.Client{Timeout: fetchTimeout}},
				Resource: resource, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			mint := func() string {
				return as.Mint(authtest.TokenRequest{Audience: []string{resource}, Scopes: []string{"notes:read"}})
			}
			if _, err := verify(a, mint()); err != nil {
				t.Fatalf("warm-up: %v", err)
			}
			front.mode.Store(mode)
			clk.Advance(time.Minute)
			if _, err := verify(a, mint()); err != nil {
				t.Fatalf("a token under a cached key was refused while the key set fails: %v", err)
			}
			as.RotateKey()
			start := time.Now()
			_, err = verify(a, mint())
			if !errors.Is(err, auth.ReasonKeysetUnavailable) {
				t.Fatalf("unknown key while the key set fails: %v, want keyset_unavailable", err)
			}
			if took := time.Since(start); took > fetchTimeout+2*time.Second {
				t.Fatalf("the refusal took %s, longer than the %s fetch timeout", took, fetchTimeout)
			}
			front.mode.Store("")
			clk.Advance(time.Minute)
			if _, err := verify(a, mint()); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
	t.Run("JWKS TLS error", func(t *testing.T) {
		as := authtest.Start(authtest.Options{})
		defer as.Close()
		untrusted := httptest.NewTLSServer(http.NotFoundHandler())
		defer untrusted.Close()
		a, err := auth.New(context.Background(), auth.Config{
			Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL, JWKSURL: untrusted.URL}}, HTTPClient: &http.Client{Timeout: fetchTimeout}}, Resource: resource, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		_, err = verify(a, as.Mint(authtest.TokenRequest{Audience: []string{resource}}))
		if !errors.Is(err, auth.ReasonKeysetUnavailable) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v, want keyset_unavailable naming the certificate problem", err)
		}
	})
	t.Run("authorization server metadata missing at start-up fails fast", func(t *testing.T) {
		hang := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(hang)
		start := time.Now()
		_, err := auth.New(context.Background(), auth.Config{
			Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: srv.URL}}, HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}}, Resource: resource,
		})
		if err == nil || !strings.Contains(err.Error(), "/.well-known/openid-configuration") {
			t.Fatalf("err = %v, want a discovery error naming the URLs tried", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("New blocked for %s", took)
		}
	})
	t.Run("introspection endpoint down", func(t *testing.T) {
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
		defer down.Close()
		as := authtest.Start(authtest.Options{})
		defer as.Close()
		a, err := auth.New(context.Background(), auth.Config{
			Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}, Introspection: &auth.Introspection{Endpoint: down.URL, Issuer: as.URL}}, Resource: resource, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if _, err := verify(a, "opaque-token"); !errors.Is(err, auth.ReasonIntrospectionFailed) {
			t.Fatalf("err = %v", err)
		}
		if _, err := verify(a, as.Mint(authtest.TokenRequest{Audience: []string{resource}})); err != nil {
			t.Fatalf("JWTs must keep passing while introspection is down: %v", err)
		}
	})
}

// verify checks tok as a's verifier does, through Check (which also
// requires the baseline scopes).
func verify(a *auth.Authenticator, tok string) (*auth.Token, error) {
	r := httptest.NewRequest(http.MethodPost, "https://mcp.example.com/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return a.Check(r)
}
