package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestEntraLikeConfiguration configures the example as for Entra (audience
// GUID, prefixed scp) against the development server shaped the same way.
func TestEntraLikeConfiguration(t *testing.T) {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	const guid = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
	cfg, write, err := configFromEnv(env(map[string]string{
		"MCPAUTH_RESOURCE": "https://mcp.example.com/mcp", "MCPAUTH_ISSUER": as.URL,
		"MCPAUTH_AUDIENCES": guid, "MCPAUTH_SCOPE_CLAIMS": "scp", "MCPAUTH_STRIP_PREFIXES": "api://" + guid + "/",
		"MCPAUTH_BASELINE_SCOPES": "Notes.Read", "MCPAUTH_WRITE_SCOPE": "Notes.Write",
	}))
	if err != nil || write != "Notes.Write" {
		t.Fatal(err)
	}
	a, err := auth.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tok := as.Mint(authtest.TokenRequest{Audience: []string{guid}, Claims: map[string]any{"scp": "api://" + guid + "/Notes.Read"}})
	r := httptest.NewRequest("POST", cfg.Resource, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	got, err := a.Check(r)
	if err != nil || got.Scopes.String() != "Notes.Read" {
		t.Fatalf("%v %v", got, err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, _, err := configFromEnv(env(nil)); err == nil {
		t.Fatal("empty environment accepted")
	}
	if _, _, err := configFromEnv(env(map[string]string{"MCPAUTH_RESOURCE": "https://a/mcp", "MCPAUTH_ISSUER": "https://as", "MCPAUTH_REQUIRE_AT_JWT": "maybe"})); err == nil {
		t.Fatal("bad boolean accepted")
	}
}
