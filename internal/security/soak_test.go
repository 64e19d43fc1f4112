package security

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
)

// TestSoak drives 200 concurrent clients for 30 seconds (MCPAUTH_SOAK
// changes the duration) with valid, invalid, expired and step-up requests
// while the signing key rotates twice, and checks every decision, that no
// goroutine leaks, and that a flood of distinct junk tokens leaves memory
// flat. Skipped with -short.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: run without -short")
	}
	duration := 30 * time.Second
	if d, err := time.ParseDuration(os.Getenv("MCPAUTH_SOAK")); err == nil {
		duration = d
	}
	goroutinesBefore := runtime.NumGoroutine()
	wrong, total := soak(t, duration)
	if wrong != 0 {
		t.Fatalf("%d wrong decisions out of %d", wrong, total)
	}
	t.Logf("%d requests, 0 wrong decisions", total)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutinesBefore+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after\n%s", goroutinesBefore, n, buf[:runtime.Stack(buf, true)])
	}
}

func soak(t *testing.T, duration time.Duration) (wrong, total int64) {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resource := srv.URL + "/mcp"
	a, err := auth.New(context.Background(), auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}, KeyRefreshMinGap: min(2*time.Second, duration/6)}, Resource: resource,
		BaselineScopes: []string{"notes:read"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s := server.NewMCPServer("notes", "1.0.0", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("ok"), nil
	})
	s.AddTool(mcp.NewTool("add_note", mcpgo.RequireScopes("notes:write")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("added"), nil
	})
	mux.Handle("/", mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s, server.WithStateLess(true))))

	transport := &http.Transport{MaxIdleConnsPerHost: 256}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	defer transport.CloseIdleConnections()

	// Tokens, re-minted after each rotation so new keys are in use at once.
	type tokens struct{ read, write, expired, tampered string }
	var current atomic.Pointer[tokens]
	mintAll := func() {
		tk := &tokens{
			read:    as.Mint(authtest.TokenRequest{Audience: []string{resource}, Scopes: []string{"notes:read"}}),
			write:   as.Mint(authtest.TokenRequest{Audience: []string{resource}, Scopes: []string{"notes:read", "notes:write"}}),
			expired: as.Mint(authtest.TokenRequest{Audience: []string{resource}, Scopes: []string{"notes:read"}, TTL: -time.Hour}),
		}
		tk.tampered = tamper(tk.read, 2, func(b []byte) []byte { b[3] ^= 1; return b })
		current.Store(tk)
	}
	mintAll()
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	go func() {
		for range 2 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(duration / 3):
			}
			as.RotateKey()
			mintAll()
		}
	}()
	call := func(tok, tool string) int {
		req, _ := http.NewRequest("POST", resource, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+tool+`","arguments":{}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	var wg sync.WaitGroup
	var wrongN, totalN atomic.Int64
	var firstWrong sync.Once
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				tk := current.Load()
				var got, want int
				switch (i + n) % 5 {
				case 0:
					got, want = call(tk.read, "whoami"), 200
				case 1:
					got, want = call(tk.tampered, "whoami"), 401
				case 2:
					got, want = call(tk.expired, "whoami"), 401
				case 3:
					got, want = call(tk.read, "add_note"), 403 // needs a step-up
				case 4:
					got, want = call(tk.write, "add_note"), 200 // after the step-up
				}
				if ctx.Err() != nil && got == 0 {
					return
				}
				totalN.Add(1)
				if got != want {
					wrongN.Add(1)
					firstWrong.Do(func() { t.Logf("first wrong decision: case %d got %d want %d", (i+n)%5, got, want) })
				}
			}
		}()
	}
	wg.Wait()

	// Memory: a flood of distinct junk tokens must not grow the heap.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	junk := make([]byte, 24)
	for range 100_000 {
		rand.Read(junk)
		j := base64.RawURLEncoding.EncodeToString(junk)
		verify(a, "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vcGUifQ."+j+"."+j)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 16<<20 {
		t.Errorf("100,000 junk tokens grew the heap by %d bytes", grew)
	}
	return wrongN.Load(), totalN.Load()
}
