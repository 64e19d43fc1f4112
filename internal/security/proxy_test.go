package security

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcpauth/mcpauth/internal/clienttest"
)

// proxyRows are attacks on the authorization proxy: its consent, its
// upstream round trip and its tokens.
func proxyRows() []attack {
	row := func(name string, run func(t *testing.T, e *env) observed, status int, reason string) attack {
		return attack{category: "proxy", name: name, run: run, status: status, reason: reason, challenge: "-"}
	}
	const redirect = "http://127.0.0.1:5555/callback"
	params := func(e *env) url.Values { return e.authParams("quickstart-client", redirect) }
	return []attack{
		row("redirect URI the client did not register (open redirect)", func(t *testing.T, e *env) observed {
			return authorizeAt(t, e.proxyURL, e.authParams("quickstart-client", "https://evil.example/callback"))
		}, 400, "invalid_request"),
		row("resource other than the MCP server (token for another audience)", func(t *testing.T, e *env) observed {
			p := params(e)
			p.Set("resource", "https://other.example/mcp")
			return authorizeAt(t, e.proxyURL, p)
		}, 302, "invalid_target"),
		row("PKCE plain", func(t *testing.T, e *env) observed {
			p := params(e)
			p.Set("code_challenge_method", "plain")
			return authorizeAt(t, e.proxyURL, p)
		}, 302, "invalid_request"),
		row("unapproved client sent upstream without consent (confused deputy)", func(t *testing.T, e *env) observed {
			o := authorizeAt(t, e.proxyURL, params(e))
			o.accepted = o.status == http.StatusFound // anything but the consent page
			o.reason = "consent"
			return o
		}, 200, "consent"),
		row("consent posted from another site (CSRF)", func(t *testing.T, e *env) observed {
			tx, csrf := consentPage(t, e, newBrowser(), params(e))
			resp, err := noFollow.PostForm(e.proxyURL+"/consent", url.Values{"tx": {tx}, "csrf": {csrf}, "decision": {"approve"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return observed{status: resp.StatusCode, reason: "forbidden", challenge: "-", accepted: resp.StatusCode == http.StatusFound}
		}, 403, "forbidden"),
		row("upstream callback with a state it never issued", func(t *testing.T, e *env) observed {
			return callbackIn(t, newBrowser(), e.proxyURL+"/callback?code=anything&state=forged")
		}, 400, "invalid_request"),
		row("upstream callback replayed", func(t *testing.T, e *env) observed {
			b := newBrowser()
			callback := approvedCallback(t, e, b, params(e))
			if o := callbackIn(t, b, callback); o.status != http.StatusFound {
				t.Fatalf("the first callback: %+v", o)
			}
			return callbackIn(t, b, callback)
		}, 400, "invalid_request"),
		row("code redeemed by another client", func(t *testing.T, e *env) observed {
			b := newBrowser()
			loc := callbackIn(t, b, approvedCallback(t, e, b, params(e))).location
			code := loc.Query().Get("code")
			return tokenAt(t, e.proxyURL, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
				"code_verifier": {verifierS256}, "client_id": {registerAt(t, e, redirect)}})
		}, 400, "invalid_grant"),
		row("consent ridden across browsers: the attacker's upstream sign-in URL completed by the victim", func(t *testing.T, e *env) observed {
			attacker, victim := newBrowser(), newBrowser()
			mine := e.authParams(registerAt(t, e, attackerRedirect), attackerRedirect)
			upstream := approveIn(t, e, attacker, mine)
			// The victim, signed in upstream, is redirected back without a page.
			o := callbackIn(t, victim, follow(t, victim, upstream))
			o.accepted = o.accepted || showsNoConsent(t, e, victim, mine)
			return o
		}, 403, "forbidden"),
		row("login CSRF: the attacker's callback opened in the victim's browser plants an approval", func(t *testing.T, e *env) observed {
			attacker, victim := newBrowser(), newBrowser()
			mine := e.authParams(registerAt(t, e, attackerRedirect), attackerRedirect)
			callback := approvedCallback(t, e, attacker, mine)
			o := callbackIn(t, victim, callback)
			o.accepted = o.accepted || showsNoConsent(t, e, victim, mine)
			return o
		}, 403, "forbidden"),
		row("remembered approval widened on step-up (notes:read approved, notes:write asked)", func(t *testing.T, e *env) observed {
			b := newBrowser()
			read := params(e)
			read.Set("scope", "notes:read")
			if o := callbackIn(t, b, approvedCallback(t, e, b, read)); !o.accepted {
				t.Fatalf("the first sign-in: %+v", o)
			}
			if !showsNoConsent(t, e, b, read) {
				t.Fatal("the approval of notes:read was not remembered")
			}
			wider := params(e)
			wider.Set("scope", "notes:read notes:write")
			o := authorizeIn(t, b, e.proxyURL, wider)
			o.accepted = o.status != http.StatusOK || !strings.Contains(o.body, `class="new">notes:write`)
			o.reason = "consent"
			return o
		}, 200, "consent"),
		row("store filled through /authorize: state sent 1,000 times", func(t *testing.T, e *env) observed {
			p := params(e)
			p["state"] = slices.Repeat([]string{strings.Repeat("s", 60)}, 1000)
			return authorizeAt(t, e.proxyURL, p)
		}, 400, "invalid_request"),
		row("store filled through DCR: a registration with a 62 KB client_name", func(t *testing.T, e *env) observed {
			body := `{"redirect_uris":["` + redirect + `"],"token_endpoint_auth_method":"none","client_name":"` + strings.Repeat("n", 62_000) + `"}`
			resp, err := http.Post(e.proxyURL+"/register", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]string
			json.NewDecoder(resp.Body).Decode(&out)
			return observed{status: resp.StatusCode, reason: out["error"], challenge: "-", accepted: resp.StatusCode == http.StatusCreated}
		}, 400, "invalid_client_metadata"),
		row("open redirect through a self-registered client's error (response_type=token)", func(t *testing.T, e *env) observed {
			p := e.authParams(registerAt(t, e, "https://evil.example/landing"), "https://evil.example/landing")
			p.Set("response_type", "token")
			o := authorizeAt(t, e.proxyURL, p)
			o.accepted = o.location != nil
			return o
		}, 400, "unsupported_response_type"),
		row("DNS oracle through a CIMD client_id (host resolving to loopback)", func(t *testing.T, e *env) observed {
			o := authorizeAt(t, e.proxyURL, e.authParams("https://localhost/client.json", redirect))
			o.accepted = strings.Contains(o.body, "127.0.0.1") || strings.Contains(o.body, "::1")
			return o
		}, 400, "invalid_client"),
		row("refresh token consumed by a refused widening", func(t *testing.T, e *env) observed {
			rt := proxyRefreshToken(t, e)
			o := tokenAt(t, e.proxyURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"notes:read notes:write"},
				"client_id": {"quickstart-client"}, "client_secret": {"quickstart-secret"}})
			next := tokenAt(t, e.proxyURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"quickstart-client"}, "client_secret": {"quickstart-secret"}})
			o.accepted = o.accepted || !next.accepted
			return o
		}, 400, "invalid_scope"),
		row("refresh family lost by a client racing itself", func(t *testing.T, e *env) observed {
			rt := proxyRefreshToken(t, e)
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"quickstart-client"}, "client_secret": {"quickstart-secret"}}
			var wg sync.WaitGroup
			results := make([]observed, 2)
			for i := range results {
				wg.Go(func() { results[i] = tokenAt(t, e.proxyURL, form) })
			}
			wg.Wait()
			winner, loser := results[0], results[1]
			if loser.accepted {
				winner, loser = loser, winner
			}
			if !winner.accepted {
				t.Fatalf("no refresh won the race: %+v", results)
			}
			next := tokenAt(t, e.proxyURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {winner.refreshToken},
				"client_id": {"quickstart-client"}, "client_secret": {"quickstart-secret"}})
			loser.accepted = loser.accepted || !next.accepted
			return loser
		}, 400, "invalid_grant"),
	}
}

const attackerRedirect = "http://127.0.0.1:6666/stolen"

// newBrowser is a browser of its own: a cookie jar, redirects not followed.
func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: noFollow.CheckRedirect}
}

// registerAt registers a public client with redirect at the proxy, as
// anyone can, and returns its id.
func registerAt(t *testing.T, e *env, redirect string) string {
	resp, err := http.Post(e.proxyURL+"/register", "application/json", strings.NewReader(`{"redirect_uris":["`+redirect+`"],"token_endpoint_auth_method":"none"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		ClientID string `json:"client_id"`
	}
	json.NewDecoder(resp.Body).Decode(&c)
	if c.ClientID == "" {
		t.Fatalf("registration: %d", resp.StatusCode)
	}
	return c.ClientID
}

// authorizeIn opens an authorization request in browser b.
func authorizeIn(t *testing.T, b *http.Client, asURL string, p url.Values) observed {
	resp, err := b.Get(asURL + "/authorize?" + p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	o := observed{status: resp.StatusCode, challenge: "-", body: string(body)}
	o.location, _ = resp.Location()
	return o
}

// showsNoConsent reports whether browser b is sent upstream for p without
// being asked: an approval it remembers.
func showsNoConsent(t *testing.T, e *env, b *http.Client, p url.Values) bool {
	return authorizeIn(t, b, e.proxyURL, p).status != http.StatusOK
}

// follow gets u in browser b and returns where it redirects.
func follow(t *testing.T, b *http.Client, u string) string {
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}

// proxyRefreshToken signs in through the proxy with the static client and
// returns the refresh token it is issued.
func proxyRefreshToken(t *testing.T, e *env) string {
	b := newBrowser()
	loc := callbackIn(t, b, approvedCallback(t, e, b, e.authParams("quickstart-client", "http://127.0.0.1:5555/callback"))).location
	o := tokenAt(t, e.proxyURL, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {"http://127.0.0.1:5555/callback"},
		"code_verifier": {verifierS256}, "client_id": {"quickstart-client"}, "client_secret": {"quickstart-secret"}})
	if o.refreshToken == "" {
		t.Fatalf("no refresh token: %+v", o)
	}
	return o.refreshToken
}

// consentPage loads the consent page for p in browser b and returns the
// form's tx and csrf.
func consentPage(t *testing.T, e *env, b *http.Client, p url.Values) (tx, csrf string) {
	o := authorizeIn(t, b, e.proxyURL, p)
	field := func(name string) string {
		i := strings.Index(o.body, `name="`+name+`" value="`)
		if i < 0 {
			t.Fatalf("no %s on the consent page: %d %s", name, o.status, o.body)
		}
		rest := o.body[i+len(`name="`+name+`" value="`):]
		return rest[:strings.IndexByte(rest, '"')]
	}
	return field("tx"), field("csrf")
}

// approveIn approves p on the consent page in browser b and returns the
// upstream sign-in URL it is sent to.
func approveIn(t *testing.T, e *env, b *http.Client, p url.Values) string {
	tx, csrf := consentPage(t, e, b, p)
	resp, err := b.PostForm(e.proxyURL+"/consent", url.Values{"tx": {tx}, "csrf": {csrf}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}

// approvedCallback approves p in browser b, lets the upstream sign the
// user in (it redirects without a page) and returns the upstream's
// redirect back to the proxy, not yet followed.
func approvedCallback(t *testing.T, e *env, b *http.Client, p url.Values) string {
	return follow(t, b, approveIn(t, e, b, p))
}

// callbackIn follows the upstream's redirect into the proxy in browser b.
func callbackIn(t *testing.T, b *http.Client, u string) observed {
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	o := observed{status: resp.StatusCode, challenge: "-"}
	if loc, err := resp.Location(); err == nil {
		o.location = loc
		o.reason, o.accepted = loc.Query().Get("error"), loc.Query().Get("code") != ""
		return o
	}
	body, _ := io.ReadAll(resp.Body)
	o.reason, _, _ = strings.Cut(strings.TrimSpace(string(body)), ":")
	return o
}

// tokenAt posts form to a token endpoint.
func tokenAt(t testing.TB, asURL string, form url.Values) observed {
	o, _ := tokenWith(t, asURL, form, nil)
	return o
}

// tokenWith posts form to the token endpoint with extra headers (a DPoP
// proof) and returns the outcome and the response.
func tokenWith(t testing.TB, asURL string, form url.Values, header http.Header) (observed, map[string]any) {
	status, out, err := clienttest.CodeFlow{Issuer: asURL, Header: header}.Token(form)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := out["error"].(string)
	rt, _ := out["refresh_token"].(string)
	return observed{status: status, reason: code, challenge: "-", accepted: status == 200, refreshToken: rt}, out
}
