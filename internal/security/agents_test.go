package security

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/mcpgo"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
)

// agents is the target of the rows on MCP's authorization extensions: a
// proxy with machine clients (a secret, private_key_jwt), an enterprise
// IdP it trusts (authtest), DPoP, and an MCP server that takes its tokens
// with DPoP and nonces.
type agents struct {
	asURL, mcpURL  string
	idp, stranger  *authtest.Server
	signer, holder *clienttest.Key // the private_key_jwt client's key; the DPoP key of bound
	bound          string          // a token bound to holder
	nonces         *auth.DPoPVerifier
	staleNonces    *auth.DPoPVerifier
}

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

func (e *env) startAgents(t testing.TB) {
	g := &agents{signer: clienttest.NewKey(), holder: clienttest.NewKey()}
	e.agents = g
	g.idp = authtest.Start(authtest.Options{KeyAlgorithm: "ES256", Subject: "employee-7"})
	t.Cleanup(g.idp.Close)
	g.stranger = authtest.Start(authtest.Options{KeyAlgorithm: "ES256"})
	t.Cleanup(g.stranger.Close)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	g.asURL = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	g.mcpURL = srv.URL + "/mcp"
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	none := registration.RedirectPolicy{}
	p, err := proxy.New(context.Background(), proxy.Config{Issuer: g.asURL, Resource: g.mcpURL, ScopesSupported: []string{"notes:read", "notes:write"},
		Upstream: proxy.Upstream{Issuer: e.as.URL, ClientID: "quickstart-client", ClientSecret: "quickstart-secret"},
		Clients: []*registration.Client{
			registration.Static("machine", "machine-secret", registration.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "notes:read"}, none),
			registration.Static("signed", "", registration.Metadata{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: registration.PrivateKeyJWT, JWKS: g.signer.JWKS()}, none),
			registration.Static("enterprise-client", "ent-secret", registration.Metadata{GrantTypes: []string{proxy.GrantJWTBearer}}, none),
		},
		Enterprise: []proxy.EnterpriseIdP{{Issuer: g.idp.URL}},
		DPoP:       &auth.DPoPConfig{},
		Logger:     quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	as := &http.Server{Handler: p}
	go as.Serve(ln)
	t.Cleanup(func() { as.Close() })

	nonceKey := []byte(strings.Repeat("catalogue-nonce-key", 2))
	a, err := auth.New(context.Background(), auth.Config{Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: g.asURL}}}, Resource: g.mcpURL,
		BaselineScopes: []string{"notes:read"}, DPoP: &auth.DPoPConfig{NonceKey: nonceKey}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	g.nonces, _ = auth.NewDPoPVerifier(auth.DPoPConfig{NonceKey: nonceKey}, nil)
	g.staleNonces, _ = auth.NewDPoPVerifier(auth.DPoPConfig{NonceKey: nonceKey}, func() time.Time { return time.Now().Add(-10 * time.Minute) })
	s := server.NewMCPServer("notes", "1", mcpgo.ServerOptions(a)...)
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(auth.TokenFromContext(ctx).Subject), nil
	})
	mux.Handle("/", mcpgo.Protect(a, s, server.NewStreamableHTTPServer(s)))

	_, out := tokenWith(t, g.asURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"machine"}, "client_secret": {"machine-secret"}},
		http.Header{"Dpop": {g.holder.Proof("POST", g.asURL+"/token", "", "", nil)}})
	if g.bound, _ = out["access_token"].(string); g.bound == "" || out["token_type"] != "DPoP" {
		t.Fatalf("a DPoP-bound token: %v", out)
	}
}

// agentsRows are attacks on client credentials, private_key_jwt,
// enterprise ID-JAGs and DPoP.
func agentsRows() []attack {
	tokenRow := func(name string, form func(g *agents) url.Values, status int, code string) attack {
		return attack{category: "agents", name: name, status: status, reason: code, challenge: "-", run: func(t *testing.T, e *env) observed {
			return tokenAt(t, e.agents.asURL, form(e.agents))
		}}
	}
	secret := func(scope string) func(g *agents) url.Values {
		return func(g *agents) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "client_id": {"machine"}, "client_secret": {"machine-secret"}, "scope": {scope}, "resource": {g.mcpURL}}
		}
	}
	assertion := func(k func(g *agents) *clienttest.Key, edit func(g *agents, c map[string]any)) func(g *agents) url.Values {
		return func(g *agents) url.Values {
			a := k(g).Assertion("signed", g.asURL, func(c map[string]any) {
				if edit != nil {
					edit(g, c)
				}
			})
			return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {a}}
		}
	}
	signer := func(g *agents) *clienttest.Key { return g.signer }
	attackerKey := func(*agents) *clienttest.Key { return clienttest.NewKey() }
	jag := func(idp func(g *agents) *authtest.Server, edit func(g *agents, r *authtest.IDJAGRequest)) func(g *agents) url.Values {
		return func(g *agents) url.Values {
			r := authtest.IDJAGRequest{Audience: g.asURL, ClientID: "enterprise-client", Resource: g.mcpURL}
			if edit != nil {
				edit(g, &r)
			}
			return url.Values{"grant_type": {proxy.GrantJWTBearer}, "client_id": {"enterprise-client"}, "client_secret": {"ent-secret"}, "assertion": {idp(g).IDJAG(r)}}
		}
	}
	trusted := func(g *agents) *authtest.Server { return g.idp }
	dpopRow := func(name string, header func(g *agents) http.Header, reason, chal string) attack {
		return attack{category: "agents", name: "DPoP: " + name, status: 401, reason: reason, challenge: chal, run: func(t *testing.T, e *env) observed {
			return e.send(t, e.agents.mcpURL, "", header(e.agents), initBody)
		}}
	}
	proofHeader := func(edit func(g *agents) (tok, proof string)) func(g *agents) http.Header {
		return func(g *agents) http.Header {
			tok, proof := edit(g)
			return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof}}
		}
	}
	const pi, ip = "dpop_proof_invalid", "invalid_dpop_proof"
	return []attack{
		tokenRow("client credentials: scope outside the client's registered scope", secret("notes:write"), 400, "invalid_scope"),
		tokenRow("client credentials: token for another resource", func(g *agents) url.Values {
			f := secret("")(g)
			f.Set("resource", "https://other.example/mcp")
			return f
		}, 400, "invalid_target"),
		tokenRow("client credentials: guessed secret", func(g *agents) url.Values {
			f := secret("")(g)
			f.Set("client_secret", "guess")
			return f
		}, 401, "invalid_client"),
		tokenRow("private_key_jwt: assertion signed with the attacker's key", assertion(attackerKey, nil), 401, "invalid_client"),
		tokenRow("private_key_jwt: HMAC assertion keyed with the client's public key (algorithm confusion)", func(g *agents) url.Values {
			a := g.signer.Proof("", "", "", "", func(h, c map[string]any) {
				h["alg"] = "HS256"
				for k := range c {
					delete(c, k)
				}
				c["iss"], c["sub"], c["aud"], c["jti"], c["exp"] = "signed", "signed", g.asURL, "hs256", time.Now().Add(time.Minute).Unix()
			})
			return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {a}}
		}, 401, "invalid_client"),
		tokenRow("private_key_jwt: assertion for another authorization server", assertion(signer, func(_ *agents, c map[string]any) { c["aud"] = "https://other-as.example" }), 401, "invalid_client"),
		tokenRow("private_key_jwt: assertion expired", assertion(signer, func(_ *agents, c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), 401, "invalid_client"),
		tokenRow("private_key_jwt: assertion valid for a day (a stolen one would live long)", assertion(signer, func(_ *agents, c map[string]any) { c["exp"] = time.Now().Add(24 * time.Hour).Unix() }), 401, "invalid_client"),
		{category: "agents", name: "private_key_jwt: assertion replayed", status: 401, reason: "invalid_client", challenge: "-", run: func(t *testing.T, e *env) observed {
			f := assertion(signer, nil)(e.agents)
			if o := tokenAt(t, e.agents.asURL, f); !o.accepted {
				t.Fatalf("the first use: %+v", o)
			}
			return tokenAt(t, e.agents.asURL, f)
		}},
		{category: "agents", name: "ID-JAG replayed", status: 400, reason: "invalid_grant", challenge: "-", run: func(t *testing.T, e *env) observed {
			f := jag(trusted, nil)(e.agents)
			if o := tokenAt(t, e.agents.asURL, f); !o.accepted {
				t.Fatalf("the first use: %+v", o)
			}
			return tokenAt(t, e.agents.asURL, f)
		}},
		tokenRow("ID-JAG from an IdP the proxy does not trust", jag(func(g *agents) *authtest.Server { return g.stranger }, nil), 400, "invalid_grant"),
		tokenRow("ID-JAG issued to another client", jag(trusted, func(_ *agents, r *authtest.IDJAGRequest) { r.ClientID = "other-client" }), 400, "invalid_grant"),
		tokenRow("ID-JAG for another MCP server", jag(trusted, func(_ *agents, r *authtest.IDJAGRequest) { r.Resource = "https://other.example/mcp" }), 400, "invalid_target"),
		tokenRow("ID-JAG for another authorization server", jag(trusted, func(_ *agents, r *authtest.IDJAGRequest) { r.Audience = "https://other-as.example" }), 400, "invalid_grant"),
		tokenRow("ID-JAG expired", jag(trusted, func(_ *agents, r *authtest.IDJAGRequest) { r.TTL = -time.Minute }), 400, "invalid_grant"),
		tokenRow("an IdP access token (typ at+jwt) presented as an ID-JAG", jag(trusted, func(_ *agents, r *authtest.IDJAGRequest) { r.Header = map[string]any{"typ": "at+jwt"} }), 400, "invalid_grant"),
		{category: "agents", name: "DPoP: token request with a proof for another endpoint", status: 400, reason: "invalid_dpop_proof", challenge: "-", run: func(t *testing.T, e *env) observed {
			g := e.agents
			o, _ := tokenWith(t, g.asURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"machine"}, "client_secret": {"machine-secret"}},
				http.Header{"Dpop": {g.holder.Proof("POST", g.asURL+"/authorize", "", "", nil)}})
			return o
		}},
		dpopRow("the bound token stolen and sent as a bearer token", func(g *agents) http.Header { return bearerHeader(g.bound) }, "dpop_required", "invalid_token"),
		dpopRow("the bound token without a proof", func(g *agents) http.Header { return http.Header{"Authorization": {"DPoP " + g.bound}} }, pi, ip),
		dpopRow("the bound token with a proof of the attacker's key", proofHeader(func(g *agents) (string, string) {
			return g.bound, clienttest.NewKey().Proof("POST", g.mcpURL, g.bound, g.nonces.Nonce(), nil)
		}), pi, ip),
		dpopRow("proof for another URL", proofHeader(func(g *agents) (string, string) {
			return g.bound, g.holder.Proof("POST", "https://other.example/mcp", g.bound, g.nonces.Nonce(), nil)
		}), pi, ip),
		dpopRow("proof for another method", proofHeader(func(g *agents) (string, string) {
			return g.bound, g.holder.Proof("GET", g.mcpURL, g.bound, g.nonces.Nonce(), nil)
		}), pi, ip),
		dpopRow("proof made for another token (ath)", proofHeader(func(g *agents) (string, string) {
			return g.bound, g.holder.Proof("POST", g.mcpURL, "another-token", g.nonces.Nonce(), nil)
		}), pi, ip),
		dpopRow("proof with a stale nonce (made in advance)", proofHeader(func(g *agents) (string, string) {
			return g.bound, g.holder.Proof("POST", g.mcpURL, g.bound, g.staleNonces.Nonce(), nil)
		}), "dpop_nonce_required", "use_dpop_nonce"),
		dpopRow("proof carrying its private key", proofHeader(func(g *agents) (string, string) {
			return g.bound, g.holder.Proof("POST", g.mcpURL, g.bound, g.nonces.Nonce(), func(h, _ map[string]any) { h["jwk"] = g.holder.PrivateJWK() })
		}), pi, ip),
		dpopRow("unsigned proof (alg none)", proofHeader(func(g *agents) (string, string) {
			return g.bound, g.holder.Proof("POST", g.mcpURL, g.bound, g.nonces.Nonce(), func(h, _ map[string]any) { h["alg"] = "none" })
		}), pi, ip),
		{category: "agents", name: "DPoP: proof replayed", status: 401, reason: pi, challenge: ip, run: func(t *testing.T, e *env) observed {
			g := e.agents
			h := http.Header{"Authorization": {"DPoP " + g.bound}, "Dpop": {g.holder.Proof("POST", g.mcpURL, g.bound, g.nonces.Nonce(), nil)}}
			if o := e.send(t, g.mcpURL, "", h, initBody); !o.accepted {
				t.Fatalf("the first use: %+v", o)
			}
			return e.send(t, g.mcpURL, "", h, initBody)
		}},
		{category: "agents", name: "DPoP: the bound token with a fresh proof and the server's nonce", control: true, status: 200, challenge: "-", run: func(t *testing.T, e *env) observed {
			g := e.agents
			return e.send(t, g.mcpURL, "", http.Header{"Authorization": {"DPoP " + g.bound}, "Dpop": {g.holder.Proof("POST", g.mcpURL, g.bound, g.nonces.Nonce(), nil)}}, initBody)
		}},
	}
}
