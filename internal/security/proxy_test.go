package security

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
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
			tx, csrf, _ := consentPage(t, e, nil)
			resp, err := noFollow.PostForm(e.proxyURL+"/consent", url.Values{"tx": {tx}, "csrf": {csrf}, "decision": {"approve"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return observed{status: resp.StatusCode, reason: "forbidden", challenge: "-", accepted: resp.StatusCode == http.StatusFound}
		}, 403, "forbidden"),
		row("upstream callback with a state it never issued", func(t *testing.T, e *env) observed {
			return callbackAt(t, e.proxyURL+"/callback?code=anything&state=forged")
		}, 400, "invalid_request"),
		row("upstream callback replayed", func(t *testing.T, e *env) observed {
			callback := approvedCallback(t, e)
			if o := callbackAt(t, callback); o.status != http.StatusFound {
				t.Fatalf("the first callback: %+v", o)
			}
			return callbackAt(t, callback)
		}, 400, "invalid_request"),
		row("code redeemed by another client", func(t *testing.T, e *env) observed {
			loc := callbackAt(t, approvedCallback(t, e)).location
			code := loc.Query().Get("code")
			reg, err := http.Post(e.proxyURL+"/register", "application/json", strings.NewReader(`{"redirect_uris":["`+redirect+`"],"token_endpoint_auth_method":"none"}`))
			if err != nil {
				t.Fatal(err)
			}
			var other struct {
				ClientID string `json:"client_id"`
			}
			json.NewDecoder(reg.Body).Decode(&other)
			reg.Body.Close()
			return tokenAt(t, e.proxyURL, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
				"code_verifier": {verifierS256}, "client_id": {other.ClientID}})
		}, 400, "invalid_grant"),
	}
}

// consentPage loads the consent page for the static client in a browser
// with jar and returns the form's tx and csrf.
func consentPage(t *testing.T, e *env, jar http.CookieJar) (tx, csrf string, browser *http.Client) {
	browser = &http.Client{Jar: jar, CheckRedirect: noFollow.CheckRedirect}
	resp, err := browser.Get(e.proxyURL + "/authorize?" + e.authParams("quickstart-client", "http://127.0.0.1:5555/callback").Encode())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	field := func(name string) string {
		s := string(b)
		i := strings.Index(s, `name="`+name+`" value="`)
		if i < 0 {
			t.Fatalf("no %s on the consent page: %d %s", name, resp.StatusCode, s)
		}
		rest := s[i+len(`name="`+name+`" value="`):]
		return rest[:strings.IndexByte(rest, '"')]
	}
	return field("tx"), field("csrf"), browser
}

// approvedCallback approves the static client in a browser and returns the
// upstream's redirect back to the proxy, not yet followed.
func approvedCallback(t *testing.T, e *env) string {
	jar, _ := cookiejar.New(nil)
	tx, csrf, browser := consentPage(t, e, jar)
	resp, err := browser.PostForm(e.proxyURL+"/consent", url.Values{"tx": {tx}, "csrf": {csrf}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = browser.Get(resp.Header.Get("Location")) // the upstream approves
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}

// callbackAt follows the upstream's redirect into the proxy.
func callbackAt(t *testing.T, u string) observed {
	resp, err := noFollow.Get(u)
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
	b, _ := io.ReadAll(resp.Body)
	o.reason, _, _ = strings.Cut(strings.TrimSpace(string(b)), ":")
	return o
}

// tokenAt posts form to a token endpoint.
func tokenAt(t *testing.T, asURL string, form url.Values) observed {
	resp, err := http.PostForm(asURL+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	code, _ := out["error"].(string)
	return observed{status: resp.StatusCode, reason: code, challenge: "-", accepted: resp.StatusCode == 200}
}
