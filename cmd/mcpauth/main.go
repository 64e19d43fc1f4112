// Command mcpauth debugs MCP server authorization.
//
//	mcpauth doctor [flags] <mcp-url>
//
// doctor walks a live server the way an MCP client does: the 401 challenge,
// the protected resource metadata at both well-known URLs, authorization
// server discovery, PKCE support, registration options, the key set, CORS;
// with --token it decodes a token (without trusting it) and checks it against
// the metadata; with --flow dcr|static|cimd it runs the authorization-code +
// PKCE flow headlessly against an auto-approving server and lists the tools.
// Each check prints one line: pass, warn or fail, what was expected, what was
// seen, and the fix. The exit status is 1 when a check fails.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/internal/doctor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: mcpauth doctor [flags] <mcp-url>

flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "doctor" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts doctor.Options
	var asJSON bool
	var scope string
	var timeout time.Duration
	fs.StringVar(&opts.Token, "token", "", "an access token to decode and check (never sent anywhere but the MCP server)")
	fs.StringVar(&opts.Flow, "flow", "", "run a headless authorization flow: dcr, static or cimd (needs an auto-approving server)")
	fs.StringVar(&opts.ClientID, "client-id", "", "client id for --flow static, or the document URL for --flow cimd")
	fs.StringVar(&opts.ClientSecret, "client-secret", "", "client secret for --flow static")
	fs.StringVar(&opts.RedirectURI, "redirect-uri", "", "redirect URI for the flows (default http://127.0.0.1:33418/callback)")
	fs.StringVar(&scope, "scope", "", "space-separated scopes the flows request (default: the metadata's scopes_supported)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	rest := args[1:]
	var target string
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if target != "" {
			fmt.Fprintf(stderr, "doctor: one URL expected, got %q and %q\n", target, fs.Arg(0))
			return 2
		}
		target, rest = fs.Arg(0), fs.Args()[1:]
	}
	if target == "" {
		fs.Usage()
		return 2
	}
	opts.Scopes = strings.Fields(scope)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	report := doctor.Run(ctx, target, opts)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(report)
	} else {
		fmt.Fprint(stdout, report.Text())
	}
	if report.Failed() {
		return 1
	}
	return 0
}
