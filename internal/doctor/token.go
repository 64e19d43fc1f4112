package doctor

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/challenge"
	"github.com/mcpauth/mcpauth/internal/nearmiss"
	"github.com/mcpauth/mcpauth/scopes"
)

// checkToken decodes the token without trusting it, compares it with the
// metadata, and asks the server what it thinks of it.
func (r *run) checkToken() bool {
	if r.opts.Token == "" {
		return true
	}
	r.inspectToken(r.opts.Token, "token")
	return true
}

func (r *run) inspectToken(token, label string) {
	parts := strings.Split(token, ".")
	var claims map[string]any
	if len(parts) != 3 {
		r.add(Check{Name: label + " format", Status: Warn, Seen: fmt.Sprintf("%d dot-separated parts", len(parts)),
			Fix: "not a JWT: the server needs introspection for opaque tokens"})
	} else if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &claims) != nil {
		r.add(Check{Name: label + " format", Status: Fail, Expected: "a JWT with a JSON payload", Seen: "an undecodable payload", Fix: "check the token was copied whole"})
	}
	if claims != nil {
		iss, _ := claims["iss"].(string)
		if !contains(r.prm.AuthorizationServers, iss) {
			r.add(Check{Name: label + " iss", Status: Warn, Expected: fmt.Sprintf("one of %v", r.prm.AuthorizationServers), Seen: iss,
				Fix: "fine only if the server trusts this issuer explicitly (a facade or per-resource AS URL); otherwise tokens are refused with issuer_untrusted"})
		} else {
			r.add(Check{Name: label + " iss", Status: Pass, Seen: iss})
		}
		var aud []string
		switch v := claims["aud"].(type) {
		case string:
			aud = []string{v}
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					aud = append(aud, s)
				}
			}
		}
		switch {
		case contains(aud, r.prm.Resource):
			r.add(Check{Name: label + " aud", Status: Pass, Seen: strings.Join(aud, " ")})
		default:
			fix := "the client must request resource=" + r.prm.Resource + " (RFC 8707), or the server must accept this audience"
			switch nearmiss.Audience(aud, []string{r.prm.Resource}) {
			case nearmiss.TrailingSlash:
				fix = "the audience differs from the resource only by a trailing slash (SPEC failure mode 4); " + fix
			case nearmiss.OriginOnly:
				fix = "the audience is the origin, not the MCP endpoint; " + fix
			}
			r.add(Check{Name: label + " aud", Status: Fail, Expected: r.prm.Resource, Seen: fmt.Sprintf("%q", aud), Fix: fix})
		}
		if exp, ok := claims["exp"].(float64); !ok {
			r.add(Check{Name: label + " exp", Status: Fail, Expected: "an exp claim", Seen: "none", Fix: "access tokens must expire"})
		} else if t := time.Unix(int64(exp), 0); time.Now().After(t) {
			r.add(Check{Name: label + " exp", Status: Fail, Expected: "a future exp", Seen: "expired at " + t.UTC().Format(time.RFC3339), Fix: "get a fresh token"})
		} else {
			r.add(Check{Name: label + " exp", Status: Pass, Seen: t.UTC().Format(time.RFC3339)})
		}
		granted, err := (*scopes.Normalizer)(nil).FromClaims(claims)
		supported := scopes.New(r.prm.ScopesSupported...).Without(scopes.OfflineAccess)
		switch {
		case err != nil:
			r.add(Check{Name: label + " scopes", Status: Fail, Seen: err.Error(), Fix: "send scopes as a space-delimited string or an array of strings"})
		case supported.IsEmpty() || granted.ContainsAll(supported):
			r.add(Check{Name: label + " scopes", Status: Pass, Seen: granted.String()})
		default:
			c := Check{Name: label + " scopes", Status: Warn, Expected: "the advertised scopes " + supported.String(), Seen: granted.String()}
			for _, h := range (*scopes.Normalizer)(nil).Explain(granted, scopes.All(supported.Slice()...)) {
				c.Fix += h.Message + "; "
			}
			if c.Fix == "" {
				c.Fix = "request the advertised scopes; tools needing them will answer 403"
			}
			c.Fix = strings.TrimSuffix(c.Fix, "; ")
			r.add(c)
		}
	}
	resp, _, err := r.post(token, initialize, nil)
	switch {
	case err != nil:
		r.add(Check{Name: label + " accepted", Status: Fail, Seen: err.Error()})
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted:
		r.add(Check{Name: label + " accepted", Status: Pass, Seen: fmt.Sprintf("HTTP %d", resp.StatusCode)})
	default:
		seen := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if p, perr := challenge.Parse(resp.Header.Get("WWW-Authenticate")); perr == nil {
			seen += " " + p["error"] + ": " + p["error_description"]
		}
		r.add(Check{Name: label + " accepted", Status: Fail, Expected: "the server accepts the token", Seen: seen, Fix: "see the server's log record for this token's fingerprint " + auth.Fingerprint(token)})
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func randomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkFlow runs a headless authorization-code + PKCE flow and calls
// tools/list with the token it yields.
func (r *run) checkFlow() bool {
	if r.opts.Flow == "" {
		return true
	}
	name := "flow " + r.opts.Flow
	redirect := r.opts.RedirectURI
	if redirect == "" {
		redirect = "http://127.0.0.1:33418/callback"
	}
	clientID, secret := r.opts.ClientID, r.opts.ClientSecret
	switch r.opts.Flow {
	case "dcr":
		if r.as.RegistrationEndpoint == "" {
			r.add(Check{Name: name, Status: Fail, Expected: "a registration_endpoint", Seen: "none", Fix: "enable Dynamic Client Registration, or use another flow"})
			return false
		}
		body, _ := json.Marshal(map[string]any{"redirect_uris": []string{redirect}, "token_endpoint_auth_method": "none",
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"}, "client_name": "mcpauth doctor"})
		req, _ := http.NewRequestWithContext(r.ctx, http.MethodPost, r.as.RegistrationEndpoint, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := r.client.Do(req)
		if err != nil {
			r.add(Check{Name: name + " registration", Status: Fail, Seen: err.Error()})
			return false
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		clientID, _ = out["client_id"].(string)
		if resp.StatusCode != http.StatusCreated || clientID == "" {
			r.add(Check{Name: name + " registration", Status: Fail, Expected: "201 with a client_id", Seen: fmt.Sprintf("HTTP %d %v: %v", resp.StatusCode, out["error"], out["error_description"]),
				Fix: "accept loopback redirect URIs and public clients (token_endpoint_auth_method none)"})
			return false
		}
		r.add(Check{Name: name + " registration", Status: Pass, Seen: "client_id " + clientID})
	case "cimd":
		if !r.as.ClientIDMetadataDocumentSupported {
			r.add(Check{Name: name, Status: Fail, Expected: "client_id_metadata_document_supported: true", Seen: "false", Fix: "enable CIMD, or use another flow"})
			return false
		}
		if clientID == "" {
			r.add(Check{Name: name, Status: Fail, Expected: "--client-id with the document URL", Seen: "none"})
			return false
		}
	case "static":
		if clientID == "" {
			r.add(Check{Name: name, Status: Fail, Expected: "--client-id (and --client-secret)", Seen: "none"})
			return false
		}
	default:
		r.add(Check{Name: name, Status: Fail, Expected: "dcr, static or cimd", Seen: r.opts.Flow})
		return false
	}
	scope := strings.Join(r.opts.Scopes, " ")
	if scope == "" {
		scope = strings.Join(r.prm.ScopesSupported, " ")
	}
	verifier, state := randomB64(32), randomB64(12)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {scope}, "state": {state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}, "resource": {r.prm.Resource}}
	req, _ := http.NewRequestWithContext(r.ctx, http.MethodGet, r.as.AuthorizationEndpoint+"?"+q.Encode(), nil)
	resp, err := r.client.Do(req)
	if err != nil {
		r.add(Check{Name: name + " authorize", Status: Fail, Seen: err.Error()})
		return false
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), redirect) {
		r.add(Check{Name: name + " authorize", Status: Fail, Expected: "a redirect to " + redirect + " (the server must approve without a user for this check)",
			Seen: fmt.Sprintf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Location")), Fix: "run the authorization server with auto-approval, or run the flow with a real client"})
		return false
	}
	lq := loc.Query()
	switch {
	case lq.Get("error") != "":
		r.add(Check{Name: name + " authorize", Status: Fail, Seen: lq.Get("error") + ": " + lq.Get("error_description")})
		return false
	case lq.Get("state") != state:
		r.add(Check{Name: name + " authorize", Status: Fail, Expected: "state echoed", Seen: lq.Get("state"), Fix: "return state unchanged"})
		return false
	case r.as.AuthorizationResponseISSParameterSupported && lq.Get("iss") != r.as.Issuer:
		r.add(Check{Name: name + " authorize", Status: Fail, Expected: "iss " + r.as.Issuer + " (RFC 9207)", Seen: lq.Get("iss")})
		return false
	}
	r.add(Check{Name: name + " authorize", Status: Pass})
	form := url.Values{"grant_type": {"authorization_code"}, "code": {lq.Get("code")}, "redirect_uri": {redirect},
		"code_verifier": {verifier}, "resource": {r.prm.Resource}}
	if secret == "" {
		form.Set("client_id", clientID)
	}
	req, _ = http.NewRequestWithContext(r.ctx, http.MethodPost, r.as.TokenEndpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err = r.client.Do(req)
	if err != nil {
		r.add(Check{Name: name + " token", Status: Fail, Seen: err.Error()})
		return false
	}
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	access, _ := tok["access_token"].(string)
	if resp.StatusCode != http.StatusOK || access == "" {
		r.add(Check{Name: name + " token", Status: Fail, Expected: "200 with an access_token", Seen: fmt.Sprintf("HTTP %d %v: %v", resp.StatusCode, tok["error"], tok["error_description"])})
		return false
	}
	r.add(Check{Name: name + " token", Status: Pass, Seen: fmt.Sprintf("scope %q", tok["scope"])})
	r.checkRefreshToken(name, scope, tok)
	r.inspectToken(access, name+" token")
	r.toolsList(name, access)
	return true
}

// checkRefreshToken warns when the token response carries a refresh token
// the authorization request did not ask for with offline_access. Clients
// that hold one answer a 403 insufficient_scope by refreshing (the
// TypeScript SDK v1 does), and a refresh cannot widen scope (RFC 6749 §6):
// they never step up.
func (r *run) checkRefreshToken(name, scope string, tok map[string]any) {
	_, issued := tok["refresh_token"]
	asked := slices.Contains(strings.Fields(scope), scopes.OfflineAccess)
	c := Check{Name: name + " refresh token", Status: Pass}
	switch {
	case issued && !asked:
		c.Status, c.Expected, c.Seen = Warn, "a refresh token only when the request asks for offline_access", "a refresh token for scope "+strconv.Quote(scope)
		c.Fix = "clients that refresh on a 403 cannot step up: the TypeScript SDK v1 ends with \"Server returned 403 after trying upscoping\"; " +
			"issue refresh tokens only for offline_access (Auth0, Okta and Entra do; authtest does unless RefreshWithoutOfflineAccess)"
	case issued:
		c.Seen = "issued for offline_access"
	case asked:
		c.Seen = "none, although offline_access was asked for"
	default:
		c.Seen = "none without offline_access"
	}
	r.add(c)
}

// toolsList initializes a session and lists the tools with token.
func (r *run) toolsList(name, token string) {
	resp, _, err := r.post(token, initialize, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		return // inspectToken reported it
	}
	h := map[string]string{}
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		h["Mcp-Session-Id"] = sid
	}
	_, _, _ = r.post(token, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, h)
	resp, body, err := r.post(token, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, h)
	if err != nil || resp.StatusCode != http.StatusOK {
		seen := "no response"
		if resp != nil {
			seen = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		r.add(Check{Name: name + " tools/list", Status: Fail, Expected: "200", Seen: seen})
		return
	}
	s := string(body)
	if i := strings.Index(s, "data: "); i >= 0 {
		s = strings.TrimSpace(strings.SplitN(s[i+6:], "\n", 2)[0])
	}
	var out struct {
		Result struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		} `json:"result"`
	}
	if json.Unmarshal([]byte(s), &out) != nil {
		r.add(Check{Name: name + " tools/list", Status: Fail, Expected: "a JSON-RPC result", Seen: strings.TrimSpace(s)})
		return
	}
	var names []string
	for _, t := range out.Result.Tools {
		names = append(names, t.Name)
	}
	r.add(Check{Name: name + " tools/list", Status: Pass, Seen: fmt.Sprintf("%d tools: %s", len(names), strings.Join(names, ", "))})
}
