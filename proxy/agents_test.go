package proxy_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/proxy"
	"github.com/mcpauth/mcpauth/registration"
)

// tokenRequest posts form to the proxy's token endpoint, with HTTP Basic
// when id is set, and the DPoP proof when set.
func tokenRequest(t *testing.T, w *world, form url.Values, id, secret, dpop string) (int, map[string]any) {
	t.Helper()
	f := clienttest.CodeFlow{Issuer: w.asURL, ClientID: id, ClientSecret: secret}
	if dpop != "" {
		f.Header = http.Header{"Dpop": {dpop}}
	}
	status, out, err := f.Token(form)
	if err != nil {
		t.Fatal(err)
	}
	return status, out
}

func machineClients(signer *clienttest.Key, jwksURL string) []*registration.Client {
	return []*registration.Client{
		registration.Static("machine", "machine-secret", registration.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "notes:read"}, registration.RedirectPolicy{}),
		registration.Static("signed", "", registration.Metadata{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: registration.PrivateKeyJWT,
			JWKS: signer.JWKS(), Scope: "notes:read notes:write"}, registration.RedirectPolicy{}),
		registration.Static("signed-remote", "", registration.Metadata{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: registration.PrivateKeyJWT,
			JWKSURI: jwksURL}, registration.RedirectPolicy{}),
		registration.Static("public", "", registration.Metadata{GrantTypes: []string{"client_credentials"}}, registration.RedirectPolicy{}),
	}
}

// A machine client (no user) gets a token by client credentials, with a
// secret (Basic or form) or a private_key_jwt assertion, within the scope
// it registered and for the MCP server only, and calls a tool with it.
func TestClientCredentials(t *testing.T) {
	signer := clienttest.NewKey()
	jwks := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(signer.JWKS())
	}))
	defer jwks.Close()
	w := newWorldWith(t, true, func(c *proxy.Config) { c.Clients = append(c.Clients, machineClients(signer, jwks.URL)...) })
	cc := func(scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "resource": {w.mcpURL}}
	}

	status, out := tokenRequest(t, w, cc(""), "machine", "machine-secret", "")
	if status != 200 || out["scope"] != "notes:read" || out["token_type"] != "Bearer" {
		t.Fatalf("client_secret_basic, no scope asked: %d %v", status, out)
	}
	if code, text, err := clienttest.CallTool(w.mcpURL, clienttest.BearerCredentials(out["access_token"].(string)), "subject"); err != nil || text != "machine machine notes:read" {
		t.Fatalf("the machine token at the MCP server: %d %q %v", code, text, err)
	}
	post := cc("notes:read")
	post.Set("client_id", "machine")
	post.Set("client_secret", "machine-secret")
	if status, out := tokenRequest(t, w, post, "", "", ""); status != 200 {
		t.Fatalf("client_secret_post: %d %v", status, out)
	}
	assertion := func(id string, edit func(map[string]any)) url.Values {
		f := cc("notes:write")
		f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		f.Set("client_assertion", signer.Assertion(id, w.asURL, edit))
		return f
	}
	signed := assertion("signed", nil)
	if status, out := tokenRequest(t, w, signed, "", "", ""); status != 200 || out["scope"] != "notes:write" {
		t.Fatalf("private_key_jwt with inline jwks: %d %v", status, out)
	}
	if status, out := tokenRequest(t, w, assertion("signed-remote", func(c map[string]any) { c["aud"] = w.asURL + "/token" }), "", "", ""); status != 200 {
		t.Fatalf("private_key_jwt with jwks_uri, aud the token endpoint: %d %v", status, out)
	}

	attacker := clienttest.NewKey()
	forged := cc("notes:read")
	forged.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	forged.Set("client_assertion", attacker.Assertion("signed", w.asURL, nil))
	confused := cc("notes:read")
	confused.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	confused.Set("client_assertion", signer.Proof("", "", "", "", func(h, c map[string]any) {
		h["alg"] = "HS256"
		for k := range c {
			delete(c, k)
		}
		c["iss"], c["sub"], c["aud"], c["jti"], c["exp"] = "signed", "signed", w.asURL, "hs", time.Now().Add(time.Minute).Unix()
	}))
	both := assertion("signed", nil)
	both.Set("client_secret", "x")
	for _, c := range []struct {
		name       string
		form       url.Values
		id, secret string
		status     int
		code       string
	}{
		{"scope outside the client's registered scope", cc("notes:write"), "machine", "machine-secret", 400, "invalid_scope"},
		{"scope the server does not support", cc("admin"), "machine", "machine-secret", 400, "invalid_scope"},
		{"token for another resource", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://other.example/mcp"}}, "machine", "machine-secret", 400, "invalid_target"},
		{"wrong secret", cc(""), "machine", "guess", 401, "invalid_client"},
		{"public client (no credentials)", url.Values{"grant_type": {"client_credentials"}, "client_id": {"public"}}, "", "", 400, "unauthorized_client"},
		{"client that did not register client_credentials", cc(""), "quickstart-client", "quickstart-secret", 400, "unauthorized_client"},
		{"assertion replayed", signed, "", "", 401, "invalid_client"},
		{"assertion signed with the attacker's key", forged, "", "", 401, "invalid_client"},
		{"assertion HMAC-signed with the client's public key (algorithm confusion)", confused, "", "", 401, "invalid_client"},
		{"assertion for another audience", assertion("signed", func(c map[string]any) { c["aud"] = "https://other-as.example" }), "", "", 401, "invalid_client"},
		{"assertion expired", assertion("signed", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), "", "", 401, "invalid_client"},
		{"assertion valid for two hours", assertion("signed", func(c map[string]any) { c["exp"] = time.Now().Add(2 * time.Hour).Unix() }), "", "", 401, "invalid_client"},
		{"assertion without jti", assertion("signed", func(c map[string]any) { delete(c, "jti") }), "", "", 401, "invalid_client"},
		{"assertion whose sub is another client", assertion("signed", func(c map[string]any) { c["sub"] = "machine" }), "", "", 401, "invalid_client"},
		{"assertion for a client registered with a secret", assertion("machine", nil), "", "", 401, "invalid_client"},
		{"assertion and secret both", both, "", "", 400, "invalid_request"},
		{"secret for a private_key_jwt client", cc(""), "signed", "anything", 401, "invalid_client"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, out := tokenRequest(t, w, c.form, c.id, c.secret, "")
			if status != c.status || out["error"] != c.code {
				t.Fatalf("got %d %v, want %d %s", status, out, c.status, c.code)
			}
			t.Log(out["error_description"])
		})
	}
}

// A CIMD client and a DCR client authenticate with private_key_jwt: the
// CIMD document's jwks_uri is fetched through the guarded client, the DCR
// client registered its jwks.
func TestPrivateKeyJWTSelfRegistered(t *testing.T) {
	k := clienttest.NewKey()
	var docURL string
	docs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/jwks" {
			json.NewEncoder(rw).Encode(k.JWKS())
			return
		}
		json.NewEncoder(rw).Encode(map[string]any{"client_id": docURL, "client_name": "agent", "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": strings.TrimSuffix(docURL, "/client.json") + "/jwks"})
	}))
	defer docs.Close()
	docURL = docs.URL + "/client.json"
	w := newWorldWith(t, true, func(c *proxy.Config) {
		c.CIMD = &registration.CIMDOptions{InsecureAllowLoopback: true}
		c.DCR = &registration.Policy{GrantTypes: []string{"client_credentials"}, AuthMethods: []string{registration.PrivateKeyJWT}}
	})
	form := func(id string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "resource": {w.mcpURL}, "scope": {"notes:read"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {k.Assertion(id, w.asURL, nil)}}
	}
	if status, out := tokenRequest(t, w, form(docURL), "", "", ""); status != 200 {
		t.Fatalf("CIMD client with private_key_jwt: %d %v", status, out)
	}
	md, _ := json.Marshal(map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "grant_types": []string{"client_credentials"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": k.JWKS()})
	id, err := clienttest.Register(w.asURL, string(md))
	if err != nil {
		t.Fatal(err)
	}
	if status, out := tokenRequest(t, w, form(id), "", "", ""); status != 200 {
		t.Fatalf("DCR client with private_key_jwt: %d %v", status, out)
	}
	md, _ = json.Marshal(map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "grant_types": []string{"client_credentials"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": docs.URL + "/jwks"})
	if _, err := clienttest.Register(w.asURL, string(md)); err == nil {
		t.Fatal("a DCR client with a jwks_uri (fetched from an address the caller chooses) was registered")
	}
}

// enterpriseWorld is a world whose proxy trusts idp's ID-JAGs, with a
// client "enterprise-client" registered for the JWT-bearer grant at the
// proxy and for token exchange at the IdP.
func enterpriseWorld(t *testing.T) (*world, *authtest.Server) {
	t.Helper()
	idp := authtest.Start(authtest.Options{AutoApprove: true, KeyAlgorithm: "ES256", Subject: "employee-7",
		Clients: []*registration.Client{registration.Static("enterprise-client", "idp-secret", registration.Metadata{
			RedirectURIs: []string{"http://127.0.0.1/callback"}, GrantTypes: []string{"authorization_code", authtest.GrantTokenExchange}}, registration.RedirectPolicy{AllowLocalhost: true})}})
	t.Cleanup(idp.Close)
	w := newWorldWith(t, true, func(c *proxy.Config) {
		c.Enterprise = []proxy.EnterpriseIdP{{Issuer: idp.URL}}
		c.Clients = append(c.Clients, registration.Static("enterprise-client", "proxy-secret", registration.Metadata{
			GrantTypes: []string{proxy.GrantJWTBearer}, Scope: "notes:read notes:write"}, registration.RedirectPolicy{}))
	})
	return w, idp
}

// The employee signs in at the enterprise IdP (authorization code, an ID
// token), the client exchanges the ID token there for an ID-JAG (RFC 8693)
// and the ID-JAG at the proxy for an access token (RFC 7523), with no
// consent page; the ID-JAG works once.
func TestEnterpriseManagedAuthorization(t *testing.T) {
	w, idp := enterpriseWorld(t)
	status, idTok, err := clienttest.CodeFlow{Issuer: idp.URL, ClientID: "enterprise-client", ClientSecret: "idp-secret", RedirectURI: "http://127.0.0.1/callback",
		Scope: "openid", Resource: "https://idp-userinfo.example"}.Run()
	if err != nil || status != 200 || idTok["id_token"] == nil {
		t.Fatalf("sign-in at the IdP: %d %v %v", status, idTok, err)
	}
	exchange := url.Values{"grant_type": {authtest.GrantTokenExchange}, "requested_token_type": {authtest.TokenTypeIDJAG},
		"subject_token": {idTok["id_token"].(string)}, "subject_token_type": {authtest.TokenTypeIDToken},
		"audience": {w.asURL}, "resource": {w.mcpURL}, "scope": {"notes:read notes:write"}}
	status, jag, err := clienttest.CodeFlow{Issuer: idp.URL, ClientID: "enterprise-client", ClientSecret: "idp-secret"}.Token(exchange)
	if err != nil || status != 200 || jag["issued_token_type"] != authtest.TokenTypeIDJAG {
		t.Fatalf("token exchange at the IdP: %d %v %v", status, jag, err)
	}
	grant := url.Values{"grant_type": {proxy.GrantJWTBearer}, "assertion": {jag["access_token"].(string)}, "scope": {"notes:read"}}
	status, out := tokenRequest(t, w, grant, "enterprise-client", "proxy-secret", "")
	if status != 200 || out["scope"] != "notes:read" || out["refresh_token"] != nil {
		t.Fatalf("the ID-JAG at the proxy: %d %v", status, out)
	}
	if code, text, err := clienttest.CallTool(w.mcpURL, clienttest.BearerCredentials(out["access_token"].(string)), "subject"); err != nil || text != "employee-7 enterprise-client notes:read" {
		t.Fatalf("the enterprise token at the MCP server: %d %q %v", code, text, err)
	}
	if status, out := tokenRequest(t, w, grant, "enterprise-client", "proxy-secret", ""); status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("the ID-JAG replayed: %d %v", status, out)
	}

	stranger := authtest.Start(authtest.Options{KeyAlgorithm: "ES256"})
	defer stranger.Close()
	jagFor := func(s *authtest.Server, edit func(*authtest.IDJAGRequest)) url.Values {
		r := authtest.IDJAGRequest{Audience: w.asURL, ClientID: "enterprise-client", Resource: w.mcpURL, Scopes: []string{"notes:read"}}
		if edit != nil {
			edit(&r)
		}
		return url.Values{"grant_type": {proxy.GrantJWTBearer}, "assertion": {s.IDJAG(r)}}
	}
	for _, c := range []struct {
		name   string
		form   url.Values
		id     string
		status int
		code   string
	}{
		{"ID-JAG from an IdP the proxy does not trust", jagFor(stranger, nil), "enterprise-client", 400, "invalid_grant"},
		{"ID-JAG issued to another client", jagFor(idp, func(r *authtest.IDJAGRequest) { r.ClientID = "other-client" }), "enterprise-client", 400, "invalid_grant"},
		{"ID-JAG for another MCP server", jagFor(idp, func(r *authtest.IDJAGRequest) { r.Resource = "https://other.example/mcp" }), "enterprise-client", 400, "invalid_target"},
		{"ID-JAG for another authorization server", jagFor(idp, func(r *authtest.IDJAGRequest) { r.Audience = "https://other-as.example" }), "enterprise-client", 400, "invalid_grant"},
		{"ID-JAG expired", jagFor(idp, func(r *authtest.IDJAGRequest) { r.TTL = -time.Minute }), "enterprise-client", 400, "invalid_grant"},
		{"ID-JAG without jti", jagFor(idp, func(r *authtest.IDJAGRequest) { r.Claims = map[string]any{"jti": nil} }), "enterprise-client", 400, "invalid_grant"},
		{"ID-JAG with typ at+jwt (an access token of the IdP)", jagFor(idp, func(r *authtest.IDJAGRequest) { r.Header = map[string]any{"typ": "at+jwt"} }), "enterprise-client", 400, "invalid_grant"},
		{"ID-JAG whose scope the request widens", func() url.Values {
			f := jagFor(idp, nil)
			f.Set("scope", "notes:read notes:write")
			return f
		}(), "enterprise-client", 400, "invalid_scope"},
		{"ID-JAG presented by a client without the JWT-bearer grant", jagFor(idp, func(r *authtest.IDJAGRequest) { r.ClientID = "quickstart-client" }), "quickstart-client", 400, "unauthorized_client"},
	} {
		t.Run(c.name, func(t *testing.T) {
			secret := map[string]string{"enterprise-client": "proxy-secret", "quickstart-client": "quickstart-secret"}[c.id]
			status, out := tokenRequest(t, w, c.form, c.id, secret, "")
			if status != c.status || out["error"] != c.code {
				t.Fatalf("got %d %v, want %d %s", status, out, c.status, c.code)
			}
			t.Log(out["error_description"])
		})
	}

	resp, err := http.Get(w.asURL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Grants   []string `json:"grant_types_supported"`
		Profiles []string `json:"authorization_grant_profiles_supported"`
		Methods  []string `json:"token_endpoint_auth_methods_supported"`
	}
	json.NewDecoder(resp.Body).Decode(&m)
	if !contains(m.Grants, proxy.GrantJWTBearer) || !contains(m.Grants, "client_credentials") || !contains(m.Profiles, proxy.ProfileIDJAG) || !contains(m.Methods, "private_key_jwt") {
		t.Fatalf("metadata: %+v", m)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// DPoP at the proxy: a token request with a proof gets a token bound to
// its key, which the MCP server accepts only with proofs of that key; a
// public client's refresh token is bound to the key too.
func TestDPoPBoundProxyTokens(t *testing.T) {
	signer := clienttest.NewKey()
	w := newWorldAuth(t, true, func(c *proxy.Config) {
		c.Clients = append(c.Clients, machineClients(signer, "")...)
		c.DPoP = &auth.DPoPConfig{}
	}, func(c *auth.Config) { c.DPoP = &auth.DPoPConfig{} })
	k := clienttest.NewKey()
	cc := url.Values{"grant_type": {"client_credentials"}, "resource": {w.mcpURL}}
	status, out := tokenRequest(t, w, cc, "machine", "machine-secret", k.Proof("POST", w.asURL+"/token", "", "", nil))
	if status != 200 || out["token_type"] != "DPoP" {
		t.Fatalf("a token request with a proof: %d %v", status, out)
	}
	tok := out["access_token"].(string)
	if _, text, err := clienttest.CallTool(w.mcpURL, clienttest.DPoPCredentials(tok, k), "subject"); err != nil || text != "machine machine notes:read" {
		t.Fatalf("the bound token with proofs: %q %v", text, err)
	}
	if code, _, _ := clienttest.CallTool(w.mcpURL, clienttest.BearerCredentials(tok), "subject"); code != 401 {
		t.Fatalf("the bound token as a bearer token (stolen): %d", code)
	}
	if code, _, _ := clienttest.CallTool(w.mcpURL, clienttest.DPoPCredentials(tok, clienttest.NewKey()), "subject"); code != 401 {
		t.Fatalf("the bound token with the attacker's proofs: %d", code)
	}
	if status, out := tokenRequest(t, w, cc, "machine", "machine-secret", k.Proof("POST", w.asURL+"/authorize", "", "", nil)); status != 400 || out["error"] != "invalid_dpop_proof" {
		t.Fatalf("a proof for another endpoint: %d %v", status, out)
	}

	// A public client's refresh token is bound to the key of its code redemption.
	md, _ := json.Marshal(map[string]any{"redirect_uris": []string{"http://127.0.0.1:5599/cb"}, "grant_types": []string{"authorization_code", "refresh_token"}, "token_endpoint_auth_method": "none"})
	pub, err := clienttest.Register(w.asURL, string(md))
	if err != nil {
		t.Fatal(err)
	}
	flow := clienttest.CodeFlow{Issuer: w.asURL, ClientID: pub, RedirectURI: "http://127.0.0.1:5599/cb", Scope: "notes:read offline_access", Resource: w.mcpURL}
	code, err := flow.Code()
	if err != nil {
		t.Fatal(err)
	}
	form := flow.CodeForm(code)
	form.Set("client_id", pub)
	status, out = tokenRequest(t, w, form, "", "", k.Proof("POST", w.asURL+"/token", "", "", nil))
	if status != 200 || out["refresh_token"] == nil {
		t.Fatalf("code with a proof: %d %v", status, out)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}, "client_id": {pub}}
	if status, out := tokenRequest(t, w, refresh, "", "", ""); status != 400 || out["error"] != "invalid_dpop_proof" {
		t.Fatalf("the bound refresh token without a proof (stolen): %d %v", status, out)
	}
	if status, out := tokenRequest(t, w, refresh, "", "", clienttest.NewKey().Proof("POST", w.asURL+"/token", "", "", nil)); status != 400 || out["error"] != "invalid_dpop_proof" {
		t.Fatalf("the bound refresh token with the attacker's proof: %d %v", status, out)
	}
	if status, out := tokenRequest(t, w, refresh, "", "", k.Proof("POST", w.asURL+"/token", "", "", nil)); status != 200 || out["token_type"] != "DPoP" {
		t.Fatalf("the bound refresh token with its key's proof (put back after the refusals): %d %v", status, out)
	}

	// Machine tokens have no upstream sign-in: no downstream token.
	v, _ := auth.NewVerifier(t.Context(), auth.VerifierConfig{Issuers: []auth.Issuer{{URL: w.asURL}}, Audiences: []string{w.mcpURL}})
	defer v.Close()
	mt, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.proxy.DownstreamToken(auth.ContextWithToken(t.Context(), mt), "https://api.example"); !errors.Is(err, proxy.ErrNoUpstreamToken) {
		t.Fatalf("DownstreamToken for a machine token: %v", err)
	}
}

// A proof sent where DPoP is off is refused: the client would believe its
// token bound.
func TestDPoPProofWhereOff(t *testing.T) {
	w := newWorldWith(t, true, func(c *proxy.Config) { c.Clients = append(c.Clients, machineClients(clienttest.NewKey(), "")...) })
	k := clienttest.NewKey()
	if status, out := tokenRequest(t, w, url.Values{"grant_type": {"client_credentials"}}, "machine", "machine-secret", k.Proof("POST", w.asURL+"/token", "", "", nil)); status != 400 || out["error"] != "invalid_dpop_proof" {
		t.Fatalf("%d %v", status, out)
	}
}

// With a NonceKey, the token endpoint asks for its nonce (RFC 9449 §8):
// use_dpop_nonce and a DPoP-Nonce header, then the retry is accepted.
func TestDPoPNonceAtTheTokenEndpoint(t *testing.T) {
	w := newWorldWith(t, true, func(c *proxy.Config) {
		c.Clients = append(c.Clients, machineClients(clienttest.NewKey(), "")...)
		c.DPoP = &auth.DPoPConfig{NonceKey: []byte(strings.Repeat("t", 32))}
	})
	k := clienttest.NewKey()
	cc := url.Values{"grant_type": {"client_credentials"}, "resource": {w.mcpURL}}
	req, _ := http.NewRequest(http.MethodPost, w.asURL+"/token", strings.NewReader(cc.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("machine", "machine-secret")
	req.Header.Set("DPoP", k.Proof("POST", w.asURL+"/token", "", "", nil))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	nonce := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != 400 || out["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("a proof without the nonce: %d %v nonce %q", resp.StatusCode, out, nonce)
	}
	if status, out := tokenRequest(t, w, cc, "machine", "machine-secret", k.Proof("POST", w.asURL+"/token", "", nonce, nil)); status != 200 || out["token_type"] != "DPoP" {
		t.Fatalf("the retry with the nonce: %d %v", status, out)
	}
}
