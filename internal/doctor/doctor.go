// Package doctor walks a live MCP server's authorization the way a client
// does and reports each step: what was expected, what was seen, and the fix.
// It is the engine of `mcpauth doctor`.
package doctor

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/metadata"
)

// Status is the outcome of one check.
type Status string

// The outcomes.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Check is one line of the report.
type Check struct {
	Name     string `json:"name"`
	Status   Status `json:"status"`
	Expected string `json:"expected,omitempty"`
	Seen     string `json:"seen,omitempty"`
	Fix      string `json:"fix,omitempty"`
}

// Options configures a run.
type Options struct {
	// Token, when set, is decoded (without trusting it) and checked against
	// the server's metadata.
	Token string
	// Flow runs a headless authorization-code + PKCE flow: "dcr", "static"
	// or "cimd". The authorization server must approve without a user.
	Flow string
	// ClientID and ClientSecret are the static client for Flow "static";
	// ClientID is the document URL for Flow "cimd".
	ClientID, ClientSecret string
	// RedirectURI is used by the flows; "" means http://127.0.0.1:33418/callback.
	RedirectURI string
	// Scopes requested by the flows; empty means the metadata's scopes_supported.
	Scopes []string
	// Client makes the requests; nil means a client with a 10 second timeout
	// that does not follow redirects.
	Client *http.Client
}

// Report is the result of a run.
type Report struct {
	URL    string  `json:"url"`
	Checks []Check `json:"checks"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	return slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Status == Fail })
}

// Text renders the report, one line per check.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mcpauth doctor %s\n", r.URL)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-30s ", strings.ToUpper(string(c.Status)), c.Name)
		var parts []string
		if c.Expected != "" {
			parts = append(parts, "expected: "+c.Expected)
		}
		if c.Seen != "" {
			parts = append(parts, "seen: "+c.Seen)
		}
		if c.Fix != "" && c.Status != Pass {
			parts = append(parts, "fix: "+c.Fix)
		}
		b.WriteString(strings.Join(parts, "; "))
		b.WriteByte('\n')
	}
	n := map[Status]int{}
	for _, c := range r.Checks {
		n[c.Status]++
	}
	fmt.Fprintf(&b, "%d passed, %d warnings, %d failed\n", n[Pass], n[Warn], n[Fail])
	return b.String()
}

type run struct {
	ctx    context.Context
	opts   Options
	client *http.Client
	mcpURL string
	report *Report

	prm       *metadata.ProtectedResource
	as        *metadata.AuthorizationServer
	challenge map[string]string
}

func (r *run) add(c Check) { r.report.Checks = append(r.report.Checks, c) }

// Run checks the MCP server at mcpURL.
func Run(ctx context.Context, mcpURL string, opts Options) *Report {
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	r := &run{ctx: ctx, opts: opts, client: client, mcpURL: mcpURL, report: &Report{URL: mcpURL}}
	steps := []func() bool{r.checkChallenge, r.checkCORS, r.checkMetadata, r.checkAuthorizationServer, r.checkKeys, r.checkToken, r.checkFlow}
	for _, step := range steps {
		if !step() {
			break
		}
	}
	return r.report
}

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcpauth-doctor","version":"1"}}}`

func (r *run) post(token, body string, header map[string]string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, r.mcpURL, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return r.do(req)
}
