// Command quickstart is a notes MCP server protected by mcpauth, with an
// embedded development authorization server (auth/authtest), so OAuth works
// on a fresh machine with no identity provider:
//
//	go run ./examples/quickstart
//
// MCP is served at http://127.0.0.1:8080/mcp and the development
// authorization server at http://127.0.0.1:8081. With -issuer it trusts a
// real authorization server instead.
package main

import (
	"context"
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

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/registration"
)

// config holds the command line.
type config struct {
	addr, authAddr    string
	issuer, audience  string
	clientID, secret  string
	autoApprove       bool
	allowLoopbackCIMD bool
	cimdTLS           *tls.Config // tests: trust their document server
	refreshAlways     bool        // tests: issue refresh tokens without offline_access, as some servers do
	logger            *slog.Logger
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address of the MCP server")
	flag.StringVar(&cfg.authAddr, "auth-addr", "127.0.0.1:8081", "listen address of the development authorization server")
	flag.StringVar(&cfg.issuer, "issuer", "", "use this external authorization server (issuer URL) instead of the development one")
	flag.StringVar(&cfg.audience, "audience", "", "with -issuer: the aud its tokens carry, when it is not the MCP URL")
	flag.StringVar(&cfg.clientID, "client-id", "quickstart-client", "id of the pre-registered client")
	flag.StringVar(&cfg.secret, "client-secret", "quickstart-secret", "secret of the pre-registered client")
	flag.BoolVar(&cfg.autoApprove, "auto-approve", false, "skip the consent page")
	flag.BoolVar(&cfg.allowLoopbackCIMD, "allow-loopback-cimd", false, "let the development server fetch Client ID Metadata Documents from loopback hosts")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx ends. ready, when set, is called with the MCP URL
// and the issuer once both servers listen.
func run(ctx context.Context, cfg config, out io.Writer, ready func(mcpURL, issuer string)) error {
	mcpLn, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer mcpLn.Close()
	mcpURL := "http://" + mcpLn.Addr().String() + "/mcp"

	var servers []*http.Server
	issuer := cfg.issuer
	if issuer == "" {
		asLn, err := net.Listen("tcp", cfg.authAddr)
		if err != nil {
			return err
		}
		issuer = "http://" + asLn.Addr().String()
		as, err := devAuthorizationServer(cfg, issuer)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: as, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(asLn)
	}

	trace, metrics := auth.NewTrace(200), auth.NewMetrics()
	acfg := auth.Config{
		Trace:          trace,
		Observer:       metrics,
		Resource:       mcpURL,
		Issuers:        []auth.Issuer{{URL: issuer}},
		BaselineScopes: []string{"notes:read"},
		ResourceName:   "mcpauth quickstart notes",
		Logger:         cfg.logger,
	}
	if cfg.audience != "" {
		acfg.Audiences = []string{mcpURL, cfg.audience}
	}
	a, err := auth.New(ctx, acfg)
	if err != nil {
		return err
	}
	defer a.Close()

	s := newNotesServer(a)
	// CORS lets browser-based clients (MCP Inspector in direct mode) connect.
	// TransportOptions makes idle sessions end when their binding to a
	// subject does (auth.Config.SessionIdleTimeout), so they cannot pile up.
	transport := server.NewStreamableHTTPServer(s, append(mcpgo.TransportOptions(a), server.WithStreamableHTTPCORS(
		server.WithCORSAllowedOrigins("*"),
		server.WithCORSAllowedHeaders("Authorization", "Content-Type", "Mcp-Session-Id", "Mcp-Protocol-Version", "Mcp-Method", "Mcp-Name", "Last-Event-ID"),
		server.WithCORSExposedHeaders("Mcp-Session-Id", "WWW-Authenticate"),
	))...)
	mux := http.NewServeMux()
	mux.Handle("/debug/auth", trace) // loopback callers only
	mux.Handle("/debug/auth/metrics", auth.LoopbackOnly(metrics))
	mux.Handle("/", mcpgo.Protect(a, s, transport))
	mcpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	servers = append(servers, mcpSrv)
	go mcpSrv.Serve(mcpLn)

	fmt.Fprintf(out, `mcpauth quickstart
  MCP server:            %s
  protected resource:    %s
  authorization server:  %s%s
  pre-registered client: %s / %s (redirect http://127.0.0.1:<any port>/callback; client_credentials allowed)
  decision trace:        %s (and /debug/auth/metrics)

Connect a client:
  MCP Inspector:  npx @modelcontextprotocol/inspector  (Streamable HTTP, URL %s)
  Claude Code:    claude mcp add --transport http notes %s
Tools: whoami, list_notes (notes:read), add_note (notes:write: a notes:read token gets a 403 step-up)
Press Ctrl+C to stop.
`, mcpURL, a.ResourceMetadataURL(), issuer, map[bool]string{true: " (external)", false: " (development only)"}[cfg.issuer != ""],
		cfg.clientID, cfg.secret, strings.TrimSuffix(mcpURL, "/mcp")+"/debug/auth", mcpURL, mcpURL)
	if ready != nil {
		ready(mcpURL, issuer)
	}

	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(shutdown); err != nil {
			errs = append(errs, err)
		}
	}
	fmt.Fprintln(out, "stopped")
	return errors.Join(errs...)
}

// devAuthorizationServer is the embedded development authorization server:
// the static quickstart client, DCR and CIMD, loopback redirects on any port.
func devAuthorizationServer(cfg config, issuer string) (*authtest.Server, error) {
	loopback := registration.RedirectPolicy{AllowLocalhost: true}
	static := registration.Static(cfg.clientID, cfg.secret, registration.Metadata{
		ClientName:   "mcpauth quickstart client",
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://localhost/callback"},
		GrantTypes:   []string{"authorization_code", "refresh_token", "client_credentials"},
	}, loopback)
	return authtest.New(authtest.Options{
		Issuer:          issuer,
		AutoApprove:     cfg.autoApprove,
		Clients:         []*registration.Client{static},
		DCR:             registration.Policy{Redirects: loopback, RateLimit: 100, RateWindow: time.Minute},
		CIMD:            true,
		CIMDOptions:     registration.CIMDOptions{Redirects: loopback, InsecureAllowLoopback: cfg.allowLoopbackCIMD, TLSConfig: cfg.cimdTLS},
		ScopesSupported: []string{"notes:read", "notes:write"},
		// Refresh tokens only for offline_access, as Auth0, Okta and Entra do:
		// a client that refreshes on a 403 could otherwise never step up.
		RefreshWithoutOfflineAccess: cfg.refreshAlways,
	})
}

// newNotesServer is the MCP server: three tools, two annotated with the
// scopes they need.
func newNotesServer(a *auth.Authenticator) *server.MCPServer {
	var mu sync.Mutex
	var notes []string
	s := server.NewMCPServer("notes", "1.0.0", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami", mcp.WithDescription("Who is calling: subject, client and scopes.")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			t := auth.TokenFromContext(ctx)
			if t == nil {
				return mcp.NewToolResultError("no authenticated caller"), nil
			}
			return mcp.NewToolResultText(fmt.Sprintf("subject=%s client_id=%s scopes=%s", t.Subject, t.ClientID, t.Scopes)), nil
		})
	s.AddTool(mcp.NewTool("list_notes", mcp.WithDescription("List the notes."), mcpgo.RequireScopes("notes:read")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			mu.Lock()
			defer mu.Unlock()
			if len(notes) == 0 {
				return mcp.NewToolResultText("(no notes)"), nil
			}
			return mcp.NewToolResultText(strings.Join(notes, "\n")), nil
		})
	s.AddTool(mcp.NewTool("add_note", mcp.WithDescription("Add a note."), mcp.WithString("text", mcp.Required()), mcpgo.RequireScopes("notes:write")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			text := req.GetString("text", "")
			if text == "" {
				return mcp.NewToolResultError("text is required"), nil
			}
			mu.Lock()
			notes = append(notes, text)
			mu.Unlock()
			return mcp.NewToolResultText("added: " + text), nil
		})
	return s
}
