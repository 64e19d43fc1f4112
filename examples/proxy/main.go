// Command proxy is the quickstart's notes MCP server in front of an
// identity provider that has neither Dynamic Client Registration nor Client
// ID Metadata Documents: mcpauth's authorization proxy registers MCP
// clients itself (static, DCR, CIMD), asks the user's consent, sends them
// to the provider with its one pre-registered client, and issues its own
// tokens, which the MCP server checks per tool, step-up included.
//
//	go run ./examples/proxy
//
// MCP is at http://127.0.0.1:8080/mcp and the proxy's authorization server
// on the same origin (issuer http://127.0.0.1:8080). Unless -upstream is
// given, an embedded development provider (auth/authtest, without DCR or
// CIMD) runs at http://127.0.0.1:8082 (-upstream-addr) with the proxy
// pre-registered as proxy-upstream-client / proxy-upstream-secret. The
// quickstart's static client quickstart-client / quickstart-secret is
// registered at the proxy.
//
// Real providers (register the redirect URI <public-url>/callback there):
//
//	Entra ID: -upstream https://login.microsoftonline.com/<tenant>/v2.0 -upstream-client-id <app id> -upstream-client-secret <secret>
//	Google:   -upstream https://accounts.google.com -upstream-client-id <id>.apps.googleusercontent.com -upstream-client-secret <secret>
//	Okta:     -upstream https://<org>.okta.com/oauth2/default -upstream-client-id <id> -upstream-client-secret <secret>
//	GitHub:   -upstream github -upstream-client-id <id> -upstream-client-secret <secret> (OAuth 2.0: the user is /user's id)
//
// With -redis, replicas behind a load balancer (-public-url) share clients,
// pending sign-ins, codes and refresh tokens; give every replica the same
// MCPAUTH_PROXY_SECRET (32 bytes or more), from which the signing key, the
// consent key and the key sealing upstream tokens are derived.
package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/redis/go-redis/v9"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/store"
	"github.com/mcpauth/mcpauth/store/redisstore"
)

// config is the command line.
type config struct {
	addr              string
	publicURL         string
	upstream          string
	upstreamAddr      string
	upstreamID        string
	upstreamSecret    string
	redis             string
	autoApprove       bool
	allowLoopbackCIMD bool
	clientID, secret  string // the static client
	// For tests: trust their CIMD document server; where the log goes.
	cimdTLS *tls.Config
	logger  *slog.Logger
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address of the MCP server and the proxy")
	flag.StringVar(&cfg.publicURL, "public-url", "", "the URL clients use (behind a load balancer); default http://<addr>")
	flag.StringVar(&cfg.upstream, "upstream", "", "issuer URL of a real upstream provider (or \"github\"); default: an embedded development provider")
	flag.StringVar(&cfg.upstreamAddr, "upstream-addr", "127.0.0.1:8082", "listen address of the embedded development provider")
	flag.StringVar(&cfg.upstreamID, "upstream-client-id", "proxy-upstream-client", "the proxy's client id at the upstream")
	flag.StringVar(&cfg.upstreamSecret, "upstream-client-secret", "proxy-upstream-secret", "the proxy's client secret at the upstream")
	flag.StringVar(&cfg.redis, "redis", "", "address of a Redis shared by replicas (in memory without it)")
	flag.BoolVar(&cfg.autoApprove, "auto-approve", false, "skip the proxy's consent page and the development provider's login")
	flag.BoolVar(&cfg.allowLoopbackCIMD, "allow-loopback-cimd", false, "let the proxy fetch Client ID Metadata Documents from loopback hosts")
	flag.Parse()
	cfg.clientID, cfg.secret = "quickstart-client", "quickstart-secret"
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx ends; ready, when set, gets the MCP URL and the
// proxy's issuer once everything listens.
func run(ctx context.Context, cfg config, out io.Writer, ready func(mcpURL, issuer string)) error {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	issuer := strings.TrimSuffix(cfg.publicURL, "/")
	if issuer == "" {
		issuer = "http://" + ln.Addr().String()
	}
	mcpURL := issuer + "/mcp"
	var servers []*http.Server
	upstream := proxy.Upstream{Issuer: cfg.upstream, ClientID: cfg.upstreamID, ClientSecret: cfg.upstreamSecret}
	switch cfg.upstream {
	case "":
		upLn, err := net.Listen("tcp", cfg.upstreamAddr)
		if err != nil {
			return err
		}
		defer upLn.Close()
		upstream.Issuer = "http://" + upLn.Addr().String()
		dev, err := authtest.New(authtest.Options{Issuer: upstream.Issuer, AutoApprove: cfg.autoApprove, DisableDCR: true, DefaultAudience: upstream.Issuer,
			Clients: []*registration.Client{registration.Static(cfg.upstreamID, cfg.upstreamSecret,
				registration.Metadata{ClientName: "mcpauth proxy", RedirectURIs: []string{issuer + "/callback"}, GrantTypes: []string{"authorization_code"}},
				registration.RedirectPolicy{})}})
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: dev, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
			MaxHeaderBytes: 64 << 10} // see README: server limits
		servers = append(servers, srv)
		go srv.Serve(upLn)
	case "github":
		upstream = proxy.Upstream{AuthURL: "https://github.com/login/oauth/authorize", TokenURL: "https://github.com/login/oauth/access_token",
			UserInfoURL: "https://api.github.com/user", SubjectField: "id", ClientID: cfg.upstreamID, ClientSecret: cfg.upstreamSecret, Scopes: []string{"read:user"}}
	}

	pcfg := proxy.Config{
		Issuer: issuer, Resource: mcpURL, Upstream: upstream, AutoApprove: cfg.autoApprove,
		ScopesSupported: []string{"notes:read", "notes:write"},
		Clients: []*registration.Client{registration.Static(cfg.clientID, cfg.secret, registration.Metadata{ClientName: "mcpauth quickstart client",
			RedirectURIs: []string{"http://127.0.0.1/callback", "http://localhost/callback"}, GrantTypes: []string{"authorization_code", "refresh_token"}},
			registration.RedirectPolicy{AllowLocalhost: true})},
		DCR:  &registration.Policy{Redirects: registration.RedirectPolicy{AllowLocalhost: true}, RateLimit: 100, RateWindow: time.Minute},
		CIMD: &registration.CIMDOptions{Redirects: registration.RedirectPolicy{AllowLocalhost: true}, InsecureAllowLoopback: cfg.allowLoopbackCIMD, TLSConfig: cfg.cimdTLS},
	}
	if cfg.redis != "" {
		rc := redis.NewClient(&redis.Options{Addr: cfg.redis})
		defer rc.Close()
		pcfg.Store = redisstore.New(rc, "mcpauth-proxy:")
		if err := sharedKeys(&pcfg); err != nil {
			return err
		}
	}
	p, err := proxy.New(ctx, pcfg)
	if err != nil {
		return errors.Join(err, shutdown(servers))
	}
	defer p.Close()
	// The proxy is served below on this same listener: its key set is named
	// rather than discovered, and fetched on first use.
	a, err := auth.New(ctx, auth.Config{
		Resource:          mcpURL,
		Tokens:            auth.VerifierConfig{Issuers: []auth.Issuer{{URL: issuer, JWKSURL: issuer + "/jwks"}}},
		BaselineScopes:    []string{"notes:read"},
		ResourceName:      "mcpauth proxy example notes",
		Logger:            cfg.logger,
		InsecureAllowHTTP: strings.HasPrefix(issuer, "http://"),
	})
	if err != nil {
		return errors.Join(err, shutdown(servers))
	}
	defer a.Close()
	s := notes(a, p)
	mux := http.NewServeMux()
	protected := auth.CORS{}.Handler(mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s, mcpgo.TransportOptions(a)...)))
	mux.Handle("/mcp", protected)
	mux.Handle("/.well-known/oauth-protected-resource/", protected)
	mux.Handle("/.well-known/oauth-protected-resource", protected)
	mux.Handle("/", p) // the proxy's metadata, /authorize, /consent, /callback, /token, /register, /jwks
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10} // see README: server limits
	servers = append(servers, srv)
	go srv.Serve(ln)
	fmt.Fprintf(out, "mcpauth proxy example\n  MCP server:           %s\n  authorization server: %s (the proxy)\n  upstream provider:    %s\n", mcpURL, issuer, upstream.Issuer+upstream.AuthURL)
	if ready != nil {
		ready(mcpURL, issuer)
	}
	<-ctx.Done()
	return shutdown(servers)
}

// notes is the quickstart's notes server; whoami also says whether the
// upstream token is at hand for calling the provider's API.
func notes(a *auth.Authenticator, p *proxy.Proxy) *server.MCPServer {
	var (
		mu    sync.Mutex
		store []string
	)
	s := server.NewMCPServer("notes", "1.0.0", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami", mcp.WithDescription("Who is calling: subject, client and scopes.")),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			t := auth.TokenFromContext(ctx)
			text := fmt.Sprintf("subject=%s client_id=%s scopes=%s", t.Subject, t.ClientID, t.Scopes)
			if _, err := p.UpstreamToken(ctx, t); err == nil {
				text += " upstream_token=available"
			}
			return mcp.NewToolResultText(text), nil
		})
	s.AddTool(mcp.NewTool("list_notes", mcp.WithDescription("List the notes."), mcpgo.RequireScopes("notes:read")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			mu.Lock()
			defer mu.Unlock()
			if len(store) == 0 {
				return mcp.NewToolResultText("(no notes)"), nil
			}
			return mcp.NewToolResultText(strings.Join(store, "\n")), nil
		})
	s.AddTool(mcp.NewTool("add_note", mcp.WithDescription("Add a note."), mcp.WithString("text", mcp.Required()), mcpgo.RequireScopes("notes:write")),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			text := req.GetString("text", "")
			if text == "" {
				return mcp.NewToolResultError("text is required"), nil
			}
			mu.Lock()
			store = append(store, text)
			mu.Unlock()
			return mcp.NewToolResultText("added: " + text), nil
		})
	return s
}

// sharedKeys derives the keys replicas must share from MCPAUTH_PROXY_SECRET.
func sharedKeys(c *proxy.Config) error {
	secret := os.Getenv("MCPAUTH_PROXY_SECRET")
	if len(secret) < 32 {
		return errors.New("with -redis, set MCPAUTH_PROXY_SECRET (32 bytes or more, the same on every replica)")
	}
	derive := func(purpose string) []byte {
		k, err := hkdf.Key(sha256.New, []byte(secret), nil, "mcpauth proxy "+purpose, 32)
		if err != nil {
			panic(err)
		}
		return k
	}
	c.SigningKeys = []crypto.Signer{ed25519.NewKeyFromSeed(derive("signing"))}
	c.ConsentKey = derive("consent")
	kr, err := store.NewKeyring(derive("upstream tokens"))
	c.Keyring = kr
	return err
}

func shutdown(servers []*http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			s.Close() // streams still open after the grace period
		} else {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
