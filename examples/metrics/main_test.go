package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/internal/clienttest"
)

// TestMetricsScrape runs the example, sends a request without a token and
// one with a token, and scrapes /metrics as Prometheus would.
func TestMetricsScrape(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "127.0.0.1:0", "127.0.0.1:0", io.Discard, func(m, i string) { ready <- [2]string{m, i} })
	}()
	var mcpURL, issuer string
	select {
	case r := <-ready:
		mcpURL, issuer = r[0], r[1]
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	tok, err := clienttest.ClientCredentials(issuer, "metrics-client", "metrics-secret", "notes:read", mcpURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, bearer := range []string{"", tok, tok} {
		req, _ := http.NewRequest("POST", mcpURL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(strings.TrimSuffix(mcpURL, "/mcp") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`mcpauth_decisions_total{mcpauth_reason="allowed"`,
		`mcpauth_decisions_total{mcpauth_reason="token_missing"`,
		`mcpauth_token_cache_lookups_total{mcpauth_result="hit"`,
		`mcpauth_token_cache_lookups_total{mcpauth_result="miss"`,
		`mcpauth_key_refreshes_total{mcpauth_issuer="` + issuer + `",mcpauth_outcome="ok"`,
		`mcpauth_verification_duration_seconds_count`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}
