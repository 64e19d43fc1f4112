// Command metrics is an MCP server protected by mcpauth that exports
// mcpauth's metrics through OpenTelemetry to Prometheus:
//
//	go run ./examples/metrics
//	curl -s http://127.0.0.1:8090/metrics | grep mcpauth_
//
// It embeds a development authorization server (auth/authtest) that issues
// tokens to the client credentials grant of metrics-client / metrics-secret,
// so a scrape shows decisions right away:
//
//	TOKEN=$(curl -s -u metrics-client:metrics-secret http://127.0.0.1:8091/token \
//	  -d grant_type=client_credentials -d scope=notes:read -d resource=http://127.0.0.1:8090/mcp | jq -r .access_token)
//	curl -s http://127.0.0.1:8090/mcp -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//	  -H 'Accept: application/json, text/event-stream' \
//	  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
//
// /metrics answers loopback callers only; put it behind your own access
// control to scrape it from elsewhere.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/auth/otelmetrics"
	"github.com/mcpauth/mcpauth/registration"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address of the MCP server and /metrics")
	authAddr := flag.String("auth-addr", "127.0.0.1:8091", "listen address of the development authorization server")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *authAddr, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx ends; ready, when set, gets the MCP URL and the
// issuer once both listen.
func run(ctx context.Context, addr, authAddr string, out io.Writer, ready func(mcpURL, issuer string)) error {
	// A Prometheus registry of its own, fed by OpenTelemetry's exporter.
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer provider.Shutdown(context.Background())
	observer, err := otelmetrics.New(provider)
	if err != nil {
		return err
	}

	mcpLn, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer mcpLn.Close()
	asLn, err := net.Listen("tcp", authAddr)
	if err != nil {
		return err
	}
	defer asLn.Close()
	mcpURL, issuer := "http://"+mcpLn.Addr().String()+"/mcp", "http://"+asLn.Addr().String()
	as, err := authtest.New(authtest.Options{Issuer: issuer, AutoApprove: true, ScopesSupported: []string{"notes:read"},
		Clients: []*registration.Client{registration.Static("metrics-client", "metrics-secret",
			registration.Metadata{ClientName: "metrics example", GrantTypes: []string{"client_credentials"}}, registration.RedirectPolicy{})}})
	if err != nil {
		return err
	}
	asSrv := &http.Server{Handler: as, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10} // see README: server limits
	go asSrv.Serve(asLn) // before auth.New, which discovers its key set

	a, err := auth.New(ctx, auth.Config{Resource: mcpURL, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: issuer}}}, BaselineScopes: []string{"notes:read"}, Observer: observer})
	if err != nil {
		asSrv.Close()
		return err
	}
	defer a.Close()
	s := server.NewMCPServer("metrics example", "1.0.0", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami", mcp.WithDescription("Who is calling.")), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("subject=" + auth.TokenFromContext(ctx).Subject), nil
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", auth.LoopbackOnly(promhttp.HandlerFor(registry, promhttp.HandlerOpts{})))
	mux.Handle("/", mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s, mcpgo.TransportOptions(a)...)))

	mcpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10} // see README: server limits
	go mcpSrv.Serve(mcpLn)
	servers := []*http.Server{mcpSrv, asSrv}
	fmt.Fprintf(out, "MCP server %s\nmetrics    %s\nissuer     %s (development only; client metrics-client / metrics-secret)\n",
		mcpURL, "http://"+mcpLn.Addr().String()+"/metrics", issuer)
	if ready != nil {
		ready(mcpURL, issuer)
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown(shutdown))
	}
	return errors.Join(errs...)
}
