// Package exampleapp is what the notes examples share, whichever MCP SDK
// they are built on (examples/quickstart on mcp-go, examples/gosdk on the
// official go-sdk): the command line, the embedded development
// authorization server, the Authenticator, the debugging endpoints and the
// banner. Each example supplies only its MCP server.
package exampleapp

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/registration"
)

// Config is the command line of the notes examples.
type Config struct {
	Addr, AuthAddr    string
	Issuer, Audience  string
	ClientID, Secret  string
	AutoApprove       bool
	AllowLoopbackCIMD bool
	CIMDTLS           *tls.Config  // tests: trust their document server
	RefreshAlways     bool         // tests: issue refresh tokens without offline_access, as some servers do
	Logger            *slog.Logger // nil: slog.Default()
}

// Flags registers the examples' flags on fs.
func Flags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen address of the MCP server")
	fs.StringVar(&cfg.AuthAddr, "auth-addr", "127.0.0.1:8081", "listen address of the development authorization server")
	fs.StringVar(&cfg.Issuer, "issuer", "", "use this external authorization server (issuer URL) instead of the development one")
	fs.StringVar(&cfg.Audience, "audience", "", "with -issuer: the aud its tokens carry, when it is not the MCP URL")
	fs.StringVar(&cfg.ClientID, "client-id", "quickstart-client", "id of the pre-registered client")
	fs.StringVar(&cfg.Secret, "client-secret", "quickstart-secret", "secret of the pre-registered client")
	fs.BoolVar(&cfg.AutoApprove, "auto-approve", false, "skip the consent page")
	fs.BoolVar(&cfg.AllowLoopbackCIMD, "allow-loopback-cimd", false, "let the development server fetch Client ID Metadata Documents from loopback hosts")
}

// Server is an example's MCP server: its handler for everything but the
// debugging endpoints, and the SDK's name for the banner.
type Server struct {
	Handler http.Handler
	SDK     string
}

// Run serves until ctx ends: the development authorization server (unless
// cfg.Issuer), and the MCP server that build makes with the Authenticator.
// ready, when set, is called with the MCP URL and the issuer once both
// listen.
func Run(ctx context.Context, cfg Config, out io.Writer, ready func(mcpURL, issuer string), build func(*auth.Authenticator) (Server, error)) error {
	mcpLn, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer mcpLn.Close()
	mcpURL := "http://" + mcpLn.Addr().String() + "/mcp"

	var servers []*http.Server
	issuer := cfg.Issuer
	if issuer == "" {
		asLn, err := net.Listen("tcp", cfg.AuthAddr)
		if err != nil {
			return err
		}
		issuer = "http://" + asLn.Addr().String()
		as, err := devAuthorizationServer(cfg, issuer)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: as, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
			MaxHeaderBytes: 64 << 10} // see README: server limits
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
		Logger:         cfg.Logger,
	}
	if cfg.Audience != "" {
		acfg.Audiences = []string{mcpURL, cfg.Audience}
	}
	a, err := auth.New(ctx, acfg)
	if err != nil {
		return errors.Join(err, shutdown(servers))
	}
	defer a.Close()
	s, err := build(a)
	if err != nil {
		return errors.Join(err, shutdown(servers))
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/auth", trace) // loopback callers only
	mux.Handle("/debug/auth/metrics", auth.LoopbackOnly(metrics))
	mux.Handle("/", s.Handler)
	mcpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10} // see README: server limits
	servers = append(servers, mcpSrv)
	go mcpSrv.Serve(mcpLn)

	fmt.Fprintf(out, `mcpauth quickstart (%s)
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
`, s.SDK, mcpURL, a.ResourceMetadataURL(), issuer, map[bool]string{true: " (external)", false: " (development only)"}[cfg.Issuer != ""],
		cfg.ClientID, cfg.Secret, strings.TrimSuffix(mcpURL, "/mcp")+"/debug/auth", mcpURL, mcpURL)
	if ready != nil {
		ready(mcpURL, issuer)
	}

	<-ctx.Done()
	err = shutdown(servers)
	fmt.Fprintln(out, "stopped")
	return err
}

func shutdown(servers []*http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			srv.Close() // streams still open after the grace period
		} else {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// devAuthorizationServer is the embedded development authorization server:
// the static client, DCR and CIMD, loopback redirects on any port.
func devAuthorizationServer(cfg Config, issuer string) (*authtest.Server, error) {
	loopback := registration.RedirectPolicy{AllowLocalhost: true}
	static := registration.Static(cfg.ClientID, cfg.Secret, registration.Metadata{
		ClientName:   "mcpauth quickstart client",
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://localhost/callback"},
		GrantTypes:   []string{"authorization_code", "refresh_token", "client_credentials"},
	}, loopback)
	return authtest.New(authtest.Options{
		Issuer:          issuer,
		AutoApprove:     cfg.AutoApprove,
		Clients:         []*registration.Client{static},
		DCR:             registration.Policy{Redirects: loopback, RateLimit: 100, RateWindow: time.Minute},
		CIMD:            true,
		CIMDOptions:     registration.CIMDOptions{Redirects: loopback, InsecureAllowLoopback: cfg.AllowLoopbackCIMD, TLSConfig: cfg.CIMDTLS},
		ScopesSupported: []string{"notes:read", "notes:write"},
		// Refresh tokens only for offline_access, as Auth0, Okta and Entra do:
		// a client that refreshes on a 403 could otherwise never step up.
		RefreshWithoutOfflineAccess: cfg.RefreshAlways,
	})
}

// Notes is the examples' note store; the zero value is empty.
type Notes struct {
	mu    sync.Mutex
	notes []string
}

// Add adds a note.
func (n *Notes) Add(text string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notes = append(n.notes, text)
}

// List returns the notes, one per line, or "(no notes)".
func (n *Notes) List() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.notes) == 0 {
		return "(no notes)"
	}
	return strings.Join(n.notes, "\n")
}

// Whoami describes the caller of a tool.
func Whoami(t *auth.Token) string {
	if t == nil {
		return ""
	}
	return fmt.Sprintf("subject=%s client_id=%s scopes=%s", t.Subject, t.ClientID, t.Scopes)
}
