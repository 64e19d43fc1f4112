package exampletest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TypeScriptClients runs the TypeScript SDK clients, v1
// (@modelcontextprotocol/sdk) and v2 (@modelcontextprotocol/client), through
// e2e/tsclients/clients.mjs against the example: static, DCR and CIMD
// clients, each stepping up from notes:read to notes:write, and the
// challenges of revision 2025-11-25 and 2026-07-28. It needs Node 20 and
// `npm ci` in e2e/tsclients, so the examples call it from tests behind the
// tsclients build tag; .ci/run runs them:
//
//	(cd e2e/tsclients && npm ci) && go test -tags tsclients -run TestTypeScriptClients ./examples/...
//
// TS says what an example supports beyond the common scenarios.
type TS struct {
	// Modern: the server speaks revision 2026-07-28 (mcp-go does; the
	// go-sdk v1.8 does not).
	Modern bool
	// DevServer: the authorization server is the development server, which
	// can issue client_credentials tokens (to seed a narrow token) and be
	// made to issue refresh tokens without offline_access.
	DevServer bool
}

// ts says what the example supports (TS);
// the go-sdk v1.8 does not), and so whether those scenarios run.
func TypeScriptClients(t *testing.T, ex Example, ts TS) {
	dir, err := filepath.Abs("../../e2e/tsclients") // from the example's directory
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol")); err != nil {
		t.Fatalf("the harness is not installed: run npm ci in %s (%v)", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required: %v", err)
	}
	const redirect = "http://127.0.0.1:34567/callback"
	// The CIMD document is served over HTTPS by a test host with its own
	// certificate: the example's development server trusts it through
	// its TLS configuration, Node through NODE_EXTRA_CA_CERTS.
	cimd, cimdURL := CIMDDocument(t, "TypeScript harness (CIMD)", redirect)
	ca := filepath.Join(t.TempDir(), "cimd-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cimd.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	harness := func(t *testing.T, mcpURL string, extraEnv ...string) map[string]outcome {
		cmd := exec.Command(node, "clients.mjs")
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "MCP_URL="+mcpURL, "CIMD_URL="+cimdURL, "CLIENT_ID=quickstart-client",
			"CLIENT_SECRET=quickstart-secret", "REDIRECT_URL="+redirect, "NODE_EXTRA_CA_CERTS="+ca), extraEnv...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = 5 * time.Second
		runErr := cmd.Run()
		got := map[string]outcome{}
		sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
		for sc.Scan() {
			var o outcome
			if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
				t.Fatalf("harness output %q: %v", sc.Text(), err)
			}
			got[o.Scenario] = o
			if !o.OK {
				t.Errorf("%s: %s", o.Scenario, o.Error)
			} else {
				t.Logf("%s: authorizations %q, challenge scope %q at revision %q%s", o.Scenario, o.Authorizations,
					challengeScope(o.Challenge), o.Revision, map[bool]string{true: ", then: " + o.Error}[o.Error != ""])
			}
		}
		if runErr != nil {
			t.Errorf("harness: %v", runErr)
		}
		if t.Failed() {
			t.Logf("harness stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		return got
	}

	// A development server that issues refresh tokens without
	// offline_access, as some do: the v1 client refreshes instead of
	// stepping up and fails as typescript-sdk issue #2255 describes.
	if ts.DevServer {
		t.Run("refresh without offline_access", func(t *testing.T) {
			mcpURL, _, _ := startWith(t, ex, nil, func(c *Options) { c.RefreshAlways = true })
			got := harness(t, mcpURL, "REFRESH_ALWAYS=1")
			if o := got["v1/dcr/refresh-without-offline-access"]; !strings.Contains(o.Error, "Server returned 403 after trying upscoping") {
				t.Errorf("the v1 client did not fail as expected: %+v", o)
			}
		})
	}

	mcpURL, _, _ := start(t, ex, cimd.Client().Transport.(*http.Transport))
	env := []string{"MODERN=1", "SEEDED=1"}
	if !ts.Modern {
		env[0] = "MODERN=0"
	}
	if !ts.DevServer {
		env[1] = "SEEDED=0"
	}
	got := harness(t, mcpURL, env...)
	// Every client model with both SDKs, and both revisions' challenges.
	challenge := map[string]string{
		"v1/static/step-up": "notes:read notes:write", "v1/dcr/step-up": "notes:read notes:write", "v1/cimd/step-up": "notes:read notes:write",
		"v2/static/step-up": "notes:read notes:write", "v2/dcr/step-up": "notes:read notes:write", "v2/cimd/step-up": "notes:read notes:write",
		"v2-2026-07-28/dcr/step-up": "notes:read notes:write", "v2-2026-07-28/cimd/step-up": "notes:read notes:write",
		// A token with notes:write but not the baseline: a 2026-07-28 client
		// is told only what the request needs, an earlier one also what it holds.
		"v1/static/missing-baseline":            "notes:read notes:write",
		"v2-2026-07-28/static/missing-baseline": "notes:read",
	}
	for name, scope := range challenge {
		if !ts.Modern && strings.HasPrefix(name, "v2-2026-07-28/") || !ts.DevServer && strings.HasSuffix(name, "/missing-baseline") {
			continue
		}
		o, ok := got[name]
		if !ok {
			t.Errorf("scenario %s did not run", name)
			continue
		}
		if !strings.Contains(o.Challenge, `scope="`+scope+`"`) {
			t.Errorf("%s: challenge %q, want scope %q", name, o.Challenge, scope)
		}
		if want := strings.HasPrefix(name, "v2-2026-07-28/"); (o.Revision == "2026-07-28") != want {
			t.Errorf("%s: the 403 answered revision %q", name, o.Revision)
		}
	}
}

// challengeScope is the scope parameter of a challenge.
func challengeScope(c string) string {
	_, rest, _ := strings.Cut(c, `scope="`)
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// outcome is one scenario's line of the harness output.
type outcome struct {
	Scenario       string   `json:"scenario"`
	OK             bool     `json:"ok"`
	Error          string   `json:"error"`
	Authorizations []string `json:"authorizations"`
	Challenge      string   `json:"challenge"`
	Revision       string   `json:"revision"`
}
