// Command quickstart is a notes MCP server built on mark3labs/mcp-go and
// protected by mcpauth, with an embedded development authorization server
// (auth/authtest), so OAuth works on a fresh machine with no identity
// provider:
//
//	go run ./examples/quickstart
//
// MCP is served at http://127.0.0.1:8080/mcp and the development
// authorization server at http://127.0.0.1:8081. With -issuer it trusts a
// real authorization server instead. examples/gosdk is the same server on
// the official MCP Go SDK. This file is the whole program: copy it.
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
	"github.com/mcpauth/mcpauth/auth/expvarmetrics"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/registration"
)

// options is the command line.
type options struct {
	addr, authAddr    string
	issuer, audience  string
	clientID, secret  string
	autoApprove       bool
	allowLoopbackCIMD bool
	// For tests: trust their CIMD document server; issue refresh tokens
	// without offline_access, as some servers do; where the log goes.
	cimdTLS       *tls.Config
	refreshAlways bool
	logger        *slog.Logger
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address of the MCP server")
	flag.StringVar(&o.authAddr, "auth-addr", "127.0.0.1:8081", "listen address of the development authorization server")
	flag.StringVar(&o.issuer, "issuer", "", "use this external authorization server (issuer URL) instead of the development one")
	flag.StringVar(&o.audience, "audience", "", "with -issuer: the aud its tokens carry, when it is not the MCP URL")
	flag.StringVar(&o.clientID, "client-id", "quickstart-client", "id of the pre-registered client")
	flag.StringVar(&o.secret, "client-secret", "quickstart-secret", "secret of the pre-registered client")
	flag.BoolVar(&o.autoApprove, "auto-approve", false, "skip the consent page")
	flag.BoolVar(&o.allowLoopbackCIMD, "allow-loopback-cimd", false, "let the development server fetch Client ID Metadata Documents from loopback hosts")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx ends: the development authorization server (unless
// -issuer), and the MCP server behind mcpauth. ready, when set, gets the
// MCP URL and the issuer once both listen.
func run(ctx context.Context, o options, out io.Writer, ready func(mcpURL, issuer string)) error {
	mcpLn, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer mcpLn.Close()
	mcpURL := "http://" + mcpLn.Addr().String() + "/mcp"

	var servers []*http.Server
	issuer := o.issuer
	if issuer == "" {
		asLn, err := net.Listen("tcp", o.authAddr)
		if err != nil {
			return err
		}
		issuer = "http://" + asLn.Addr().String()
		as, err := devAuthorizationServer(o, issuer)
		if err != nil {
			return err
		}
		servers = append(servers, serve(as, asLn))
	}

	// 1. The Authenticator: who may call, with which scopes. The trace and
	// the metrics are the debugging endpoints below.
	trace, metrics := auth.NewTrace(200), expvarmetrics.New()
	cfg := auth.Config{
		Resource:       mcpURL,
		Tokens:         auth.VerifierConfig{Issuers: []auth.Issuer{{URL: issuer}}},
		BaselineScopes: []string{"notes:read"},
		ResourceName:   "mcpauth quickstart notes",
		Trace:          trace,
		Observer:       metrics,
		Logger:         o.logger,
	}
	if o.audience != "" {
		cfg.Tokens.Audiences = []string{mcpURL, o.audience}
	}
	a, err := auth.New(ctx, cfg)
	if err != nil {
		return errors.Join(err, shutdown(servers))
	}
	defer a.Close()

	// 2. The MCP server: three tools, two annotated with the scopes they
	// need.
	var notes notebook
	s := server.NewMCPServer("notes", "1.0.0", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami", mcp.WithDescription("Who is calling: subject, client and scopes.")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			t := auth.TokenFromContext(ctx)
			return mcp.NewToolResultText(fmt.Sprintf("subject=%s client_id=%s scopes=%s", t.Subject, t.ClientID, t.Scopes)), nil
		})
	s.AddTool(mcp.NewTool("list_notes", mcp.WithDescription("List the notes."), mcpgo.RequireScopes("notes:read")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(notes.list()), nil
		})
	s.AddTool(mcp.NewTool("add_note", mcp.WithDescription("Add a note."), mcp.WithString("text", mcp.Required()), mcpgo.RequireScopes("notes:write")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			text := req.GetString("text", "")
			if text == "" {
				return mcp.NewToolResultError("text is required"), nil
			}
			notes.add(text)
			return mcp.NewToolResultText("added: " + text), nil
		})

	// 3. The HTTP server. TransportOptions makes idle sessions end when their
	// binding to a subject does, so they cannot pile up; CORS lets
	// browser-based clients (MCP Inspector in direct mode) connect.
	transport := server.NewStreamableHTTPServer(s, mcpgo.TransportOptions(a)...)
	mux := http.NewServeMux()
	mux.Handle("/debug/auth", trace) // loopback callers only
	mux.Handle("/debug/auth/metrics", auth.LoopbackOnly(metrics))
	mux.Handle("/", auth.CORS{}.Handler(mcpgo.Protect(a, s, transport)))
	servers = append(servers, serve(mux, mcpLn))

	fmt.Fprintf(out, `mcpauth quickstart (mcp-go)
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
`, mcpURL, a.ResourceMetadataURL(), issuer, map[bool]string{true: " (external)", false: " (development only)"}[o.issuer != ""],
		o.clientID, o.secret, strings.TrimSuffix(mcpURL, "/mcp")+"/debug/auth", mcpURL, mcpURL)
	if ready != nil {
		ready(mcpURL, issuer)
	}
	<-ctx.Done()
	err = shutdown(servers)
	fmt.Fprintln(out, "stopped")
	return err
}

// devAuthorizationServer is the embedded development authorization server:
// the static client, DCR and CIMD, loopback redirects on any port.
func devAuthorizationServer(o options, issuer string) (*authtest.Server, error) {
	loopback := registration.RedirectPolicy{AllowLocalhost: true}
	static := registration.Static(o.clientID, o.secret, registration.Metadata{
		ClientName:   "mcpauth quickstart client",
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://localhost/callback"},
		GrantTypes:   []string{"authorization_code", "refresh_token", "client_credentials"},
	}, loopback)
	return authtest.New(authtest.Options{
		Issuer:          issuer,
		AutoApprove:     o.autoApprove,
		Clients:         []*registration.Client{static},
		DCR:             registration.Policy{Redirects: loopback, RateLimit: 100, RateWindow: time.Minute},
		CIMD:            true,
		CIMDOptions:     registration.CIMDOptions{Redirects: loopback, InsecureAllowLoopback: o.allowLoopbackCIMD, TLSConfig: o.cimdTLS},
		ScopesSupported: []string{"notes:read", "notes:write"},
		// Refresh tokens only for offline_access, as Auth0, Okta and Entra do:
		// a client that refreshes on a 403 could otherwise never step up.
		RefreshWithoutOfflineAccess: o.refreshAlways,
	})
}

// serve serves h on ln with the limits every public server needs (see
// README: server limits).
func serve(h http.Handler, ln net.Listener) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10}
	go srv.Serve(ln)
	return srv
}

// shutdown stops the servers, closing streams still open after 5 seconds.
func shutdown(servers []*http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			srv.Close()
		} else {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// notebook is the notes; the zero value is empty.
type notebook struct {
	mu    sync.Mutex
	notes []string
}

func (n *notebook) add(text string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notes = append(n.notes, text)
}

func (n *notebook) list() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.notes) == 0 {
		return "(no notes)"
	}
	return strings.Join(n.notes, "\n")
}
