//go:build agents

package proxy_test

import (
	"bufio"
	"crypto/x509"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
)

// TestOAuth4WebAPIAgents runs panva's oauth4webapi (e2e/agents, Node 20,
// npm ci; .ci/run runs it) against the proxy and an MCP server protected
// with DPoP (nonces on): client credentials with a secret and with
// private_key_jwt, an enterprise ID-JAG from the authtest IdP stand-in
// (sign-in, token exchange, JWT-bearer grant, replay refused), and a
// DPoP-bound token used with proofs, refused without one, with a proof for
// another URL or method, with a replayed proof and with a stale nonce.
//
//	(cd e2e/agents && npm ci) && go test -tags agents -run TestOAuth4WebAPIAgents ./proxy/
func TestOAuth4WebAPIAgents(t *testing.T) {
	dir, _ := filepath.Abs("../e2e/agents")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oauth4webapi")); err != nil {
		t.Fatalf("run npm ci in %s: %v", dir, err)
	}
	const redirect = "http://127.0.0.1:5598/callback"
	idp := authtest.Start(authtest.Options{AutoApprove: true, KeyAlgorithm: "ES256", Subject: "employee-7",
		Clients: []*registration.Client{registration.Static("enterprise-client", "idp-secret", registration.Metadata{
			RedirectURIs: []string{redirect}, GrantTypes: []string{"authorization_code", authtest.GrantTokenExchange}}, registration.RedirectPolicy{AllowLocalhost: true})}})
	defer idp.Close()
	signer := clienttest.NewKey()
	nonceKey := []byte(strings.Repeat("n", 32))
	w := newWorldAuth(t, true, func(c *proxy.Config) {
		c.Clients = append(c.Clients, machineClients(signer, "")...)
		c.Clients = append(c.Clients, registration.Static("enterprise-client", "proxy-secret", registration.Metadata{
			GrantTypes: []string{proxy.GrantJWTBearer}, Scope: "notes:read notes:write"}, registration.RedirectPolicy{}))
		c.Enterprise = []proxy.EnterpriseIdP{{Issuer: idp.URL}}
		c.DPoP = &auth.DPoPConfig{}
	}, func(c *auth.Config) { c.DPoP = &auth.DPoPConfig{NonceKey: nonceKey} })
	old, _ := auth.NewDPoPVerifier(auth.DPoPConfig{NonceKey: nonceKey}, func() time.Time { return time.Now().Add(-10 * time.Minute) })
	pkcs8, err := x509.MarshalPKCS8PrivateKey(signer.Private)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "agents.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MCP="+w.mcpURL, "IDP="+idp.URL, "MACHINE_SECRET=machine-secret",
		"SIGNED_KEY="+base64.StdEncoding.EncodeToString(pkcs8), "SIGNED_KID="+signer.KID(),
		"IDP_SECRET=idp-secret", "ENTERPRISE_SECRET=proxy-secret", "REDIRECT="+redirect, "STALE_NONCE="+old.Nonce())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer kill.Stop()
	checks := 0
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		line := lines.Text()
		t.Log(line)
		switch {
		case strings.HasPrefix(line, "FAIL "):
			t.Error(line)
		case strings.HasPrefix(line, "ok "):
			checks++
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("agents.mjs: %v", err)
	}
	if checks != 14 {
		t.Fatalf("%d checks passed, want 14", checks)
	}
}
