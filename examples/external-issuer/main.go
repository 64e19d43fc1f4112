// Command external-issuer is the quickstart's notes server configured from
// environment variables for a real authorization server (Auth0, Okta,
// Microsoft Entra ID, Keycloak, Scalekit, WorkOS, ...). See README.md for
// the settings of each.
//
//	MCPAUTH_RESOURCE=https://mcp.example.com/mcp \
//	MCPAUTH_ISSUER=https://my-tenant.us.auth0.com/ \
//	go run ./examples/external-issuer
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/scopes"
)

// settings documents every variable this example reads.
var settings = []struct{ name, help string }{
	{"MCPAUTH_ADDR", "listen address (default 127.0.0.1:8080)"},
	{"MCPAUTH_RESOURCE", "required: the public URL of the MCP endpoint, e.g. https://mcp.example.com/mcp"},
	{"MCPAUTH_ISSUER", "required: the issuer exactly as the authorization server's metadata states it"},
	{"MCPAUTH_JWKS_URL", "the key set URL; empty means discover it from the issuer's metadata"},
	{"MCPAUTH_AUTHORIZATION_SERVERS", "comma-separated URLs advertised to clients when they differ from the issuer (Scalekit)"},
	{"MCPAUTH_AUDIENCES", "comma-separated extra aud values to accept (Entra: the app's client ID GUID)"},
	{"MCPAUTH_SCOPE_CLAIMS", "comma-separated claims that carry scopes, in order (default scope,scp,scopes,permissions)"},
	{"MCPAUTH_STRIP_PREFIXES", "comma-separated scope prefixes to remove (Entra api://<app>/, Cognito <resource server>/)"},
	{"MCPAUTH_BASELINE_SCOPES", "comma-separated scopes every request needs (default notes:read)"},
	{"MCPAUTH_WRITE_SCOPE", "the scope add_note needs (default notes:write)"},
	{"MCPAUTH_REQUIRE_AT_JWT", "true to require typ at+jwt (RFC 9068)"},
}

func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// configFromEnv builds the auth configuration from getenv.
func configFromEnv(getenv func(string) string) (auth.Config, string, error) {
	cfg := auth.Config{
		Resource:             getenv("MCPAUTH_RESOURCE"),
		AuthorizationServers: list(getenv("MCPAUTH_AUTHORIZATION_SERVERS")),
		BaselineScopes:       list(getenv("MCPAUTH_BASELINE_SCOPES")),
	}
	if cfg.Resource == "" || getenv("MCPAUTH_ISSUER") == "" {
		return cfg, "", fmt.Errorf("MCPAUTH_RESOURCE and MCPAUTH_ISSUER are required")
	}
	cfg.Tokens.Issuers = []auth.Issuer{{URL: getenv("MCPAUTH_ISSUER"), JWKSURL: getenv("MCPAUTH_JWKS_URL")}}
	if extra := list(getenv("MCPAUTH_AUDIENCES")); len(extra) > 0 {
		cfg.Tokens.Audiences = append([]string{cfg.Resource}, extra...)
	}
	if len(cfg.BaselineScopes) == 0 {
		cfg.BaselineScopes = []string{"notes:read"}
	}
	if v := getenv("MCPAUTH_REQUIRE_AT_JWT"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, "", fmt.Errorf("MCPAUTH_REQUIRE_AT_JWT: %v", err)
		}
		cfg.Tokens.RequireJWTAccessTokenType = b
	}
	n, err := scopes.NewNormalizer(scopes.Config{Claims: list(getenv("MCPAUTH_SCOPE_CLAIMS")), StripPrefixes: list(getenv("MCPAUTH_STRIP_PREFIXES"))})
	if err != nil {
		return cfg, "", err
	}
	cfg.Scopes = n
	write := getenv("MCPAUTH_WRITE_SCOPE")
	if write == "" {
		write = "notes:write"
	}
	return cfg, write, nil
}

func main() {
	cfg, writeScope, err := configFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		for _, s := range settings {
			fmt.Fprintf(os.Stderr, "  %-30s %s\n", s.name, s.help)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := auth.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	s := server.NewMCPServer("notes", "1.0.0", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t := auth.TokenFromContext(ctx)
		return mcp.NewToolResultText(fmt.Sprintf("subject=%s client_id=%s scopes=%s", t.Subject, t.ClientID, t.Scopes)), nil
	})
	s.AddTool(mcp.NewTool("add_note", mcp.WithString("text"), mcpgo.RequireScopes(writeScope)), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("added: " + req.GetString("text", "")), nil
	})
	addr := os.Getenv("MCPAUTH_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	srv := &http.Server{Addr: addr, Handler: mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s)), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10} // see README: server limits
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("serving %s (metadata %s), trusting %s", cfg.Resource, a.ResourceMetadataURL(), cfg.Tokens.Issuers[0].URL)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
