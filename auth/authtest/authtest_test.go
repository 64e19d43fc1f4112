package authtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/registration"
)

const mcpURL = "https://mcp.example.com/mcp"

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func staticClient() *registration.Client {
	return registration.Static("quickstart-client", "quickstart-secret", registration.Metadata{
		ClientName:   "Quickstart",
		RedirectURIs: []string{"http://127.0.0.1/callback"},
		GrantTypes:   []string{"authorization_code", "refresh_token", "client_credentials"},
	}, registration.RedirectPolicy{AllowLocalhost: true})
}

func start(t *testing.T, opts authtest.Options) *authtest.Server {
	t.Helper()
	opts.Clients = append(opts.Clients, staticClient())
	s := authtest.Start(opts)
	t.Cleanup(s.Close)
	return s
}

// authorize runs /authorize and returns the redirect's query.
func authorize(t *testing.T, s *authtest.Server, params url.Values) (*http.Response, url.Values) {
	t.Helper()
	resp, err := noRedirect.Get(s.URL + "/authorize?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp, nil
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return resp, loc.Query()
}

func tokenRequest(t *testing.T, s *authtest.Server, form url.Values, basic bool) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth("quickstart-client", "quickstart-secret")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// flow is the static client's code flow, the server's URL aside.
var flow = clienttest.CodeFlow{ClientID: "quickstart-client", RedirectURI: "http://127.0.0.1:4567/callback", Scope: "notes:read", State: "xyz", Resource: mcpURL}

func authParams() url.Values { return flow.Params() }

func codeForm(code string) url.Values { return flow.CodeForm(code) }

func TestAuthorizationCodeFlow(t *testing.T) {
	var skew atomic.Int64 // how far the server's clock is ahead
	s := start(t, authtest.Options{AutoApprove: true, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	params := authParams()
	params.Set("scope", "notes:read offline_access")
	_, q := authorize(t, s, params)
	if q.Get("code") == "" || q.Get("state") != "xyz" || q.Get("iss") != s.URL {
		t.Fatalf("authorization response %v", q)
	}
	status, tok := tokenRequest(t, s, codeForm(q.Get("code")), true)
	if status != 200 || tok["token_type"] != "Bearer" || tok["refresh_token"] == nil || tok["scope"] != "notes:read offline_access" {
		t.Fatalf("token response %d %v", status, tok)
	}
	a, err := auth.New(context.Background(), auth.Config{Resource: mcpURL, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: s.URL}}, RequireJWTAccessTokenType: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	at, err := verify(a, tok["access_token"].(string))
	if err != nil || at.Subject != "dev-user" || at.ClientID != "quickstart-client" || at.Scopes.String() != "notes:read offline_access" {
		t.Fatalf("access token: %+v %v", at, err)
	}

	// Refresh rotates. A second use at once is the loser of a race: refused,
	// the family kept. Replaying the old refresh token later revokes the family.
	rt := tok["refresh_token"].(string)
	status, tok2 := tokenRequest(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
	if status != 200 || tok2["refresh_token"] == rt {
		t.Fatalf("refresh: %d %v", status, tok2)
	}
	if status, out := tokenRequest(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); status != 400 || !strings.Contains(out["error_description"].(string), "concurrent") {
		t.Fatalf("a racing second use: %d %v", status, out)
	}
	skew.Store(int64(oauthas.RefreshRaceGrace + time.Second))
	if status, out := tokenRequest(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("refresh token reuse after rotation: %d %v", status, out)
	}
	if status, out := tokenRequest(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok2["refresh_token"].(string)}}, true); status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("the family survived a reuse: %d %v", status, out)
	}
}

// A refresh token is issued only to a grant that asked for offline_access,
// unless the server is told to behave like one that always issues one.
// Clients that refresh on a 403 (the TypeScript SDK v1) cannot step up
// otherwise: a refresh cannot widen scope.
func TestRefreshTokenOnlyWithOfflineAccess(t *testing.T) {
	for _, tt := range []struct {
		name        string
		opts        authtest.Options
		scope       string
		wantRefresh bool
		advertised  []string
	}{
		{"no offline_access", authtest.Options{ScopesSupported: []string{"notes:read"}}, "notes:read", false, []string{"notes:read", "offline_access"}},
		{"offline_access", authtest.Options{ScopesSupported: []string{"notes:read"}}, "notes:read offline_access", true, []string{"notes:read", "offline_access"}},
		{"always, like servers that ignore offline_access", authtest.Options{ScopesSupported: []string{"notes:read"}, RefreshWithoutOfflineAccess: true}, "notes:read", true, []string{"notes:read"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.AutoApprove = true
			s := start(t, tt.opts)
			if got := s.Metadata().ScopesSupported; !slices.Equal(got, tt.advertised) {
				t.Errorf("scopes_supported %v, want %v", got, tt.advertised)
			}
			params := authParams()
			params.Set("scope", tt.scope)
			_, q := authorize(t, s, params)
			status, tok := tokenRequest(t, s, codeForm(q.Get("code")), true)
			if status != 200 {
				t.Fatalf("token response %d %v", status, tok)
			}
			if _, got := tok["refresh_token"]; got != tt.wantRefresh {
				t.Fatalf("refresh token issued: %v, want %v (response %v)", got, tt.wantRefresh, tok)
			}
			if tt.wantRefresh {
				status, tok2 := tokenRequest(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true)
				if status != 200 || tok2["refresh_token"] == nil {
					t.Fatalf("the refresh did not rotate: %d %v", status, tok2)
				}
			}
		})
	}
}

func TestPKCEAndCodeAbuse(t *testing.T) {
	s := start(t, authtest.Options{AutoApprove: true})
	for name, mutate := range map[string]func(url.Values){
		"PKCE missing":           func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") },
		"PKCE plain":             func(v url.Values) { v.Set("code_challenge_method", "plain") },
		"PKCE method omitted":    func(v url.Values) { v.Del("code_challenge_method") },
		"implicit response type": func(v url.Values) { v.Set("response_type", "token") },
	} {
		t.Run(name, func(t *testing.T) {
			p := authParams()
			mutate(p)
			_, q := authorize(t, s, p)
			if q.Get("error") == "" || q.Get("code") != "" || q.Get("state") != "xyz" {
				t.Fatalf("authorization response %v", q)
			}
		})
	}
	t.Run("wrong verifier", func(t *testing.T) {
		_, q := authorize(t, s, authParams())
		f := codeForm(q.Get("code"))
		f.Set("code_verifier", strings.Repeat("a", 43))
		if status, out := tokenRequest(t, s, f, true); status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("%d %v", status, out)
		}
	})
	t.Run("code reuse", func(t *testing.T) {
		_, q := authorize(t, s, authParams())
		if status, _ := tokenRequest(t, s, codeForm(q.Get("code")), true); status != 200 {
			t.Fatal("first use failed")
		}
		if status, out := tokenRequest(t, s, codeForm(q.Get("code")), true); status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("%d %v", status, out)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		_, q := authorize(t, s, authParams())
		f := codeForm(q.Get("code"))
		f.Set("client_id", "quickstart-client")
		f.Set("client_secret", "wrong")
		if status, out := tokenRequest(t, s, f, false); status != 401 || out["error"] != "invalid_client" {
			t.Fatalf("%d %v", status, out)
		}
	})
	t.Run("redirect_uri differs at the token endpoint", func(t *testing.T) {
		_, q := authorize(t, s, authParams())
		f := codeForm(q.Get("code"))
		f.Set("redirect_uri", "http://127.0.0.1:9999/callback")
		if status, out := tokenRequest(t, s, f, true); status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("%d %v", status, out)
		}
	})
}

func TestRedirectMismatchIsShownNotRedirected(t *testing.T) {
	s := start(t, authtest.Options{AutoApprove: true})
	for uri, part := range map[string]string{
		"http://127.0.0.1:4567/callback/":       "trailing slash",
		"https://127.0.0.1:4567/callback":       "scheme",
		"http://127.0.0.1:4567/other":           "path",
		"http://evil.example.com:4567/callback": "host",
	} {
		p := authParams()
		p.Set("redirect_uri", uri)
		resp, err := noRedirect.Get(s.URL + "/authorize?" + p.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), part) {
			t.Errorf("%s: %d %s", uri, resp.StatusCode, body)
		}
	}
}

func TestClientCredentialsAndScopes(t *testing.T) {
	s := start(t, authtest.Options{ScopesSupported: []string{"notes:read", "notes:write"}, ScopeClaim: "scp"})
	status, out := tokenRequest(t, s, url.Values{"grant_type": {"client_credentials"}, "scope": {"notes:read"}, "resource": {mcpURL}}, true)
	if status != 200 {
		t.Fatalf("%d %v", status, out)
	}
	a, _ := auth.New(context.Background(), auth.Config{Resource: mcpURL, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: s.URL}}}})
	defer a.Close()
	tok, err := verify(a, out["access_token"].(string))
	if err != nil || tok.Subject != "quickstart-client" || tok.Claims()["scp"] == nil || tok.Scopes.String() != "notes:read" {
		t.Fatalf("%+v %v", tok, err)
	}
	if status, out := tokenRequest(t, s, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}, "resource": {mcpURL}}, true); status != 400 || out["error"] != "invalid_scope" {
		t.Fatalf("unknown scope: %d %v", status, out)
	}
	drop := start(t, authtest.Options{ScopesSupported: []string{"notes:read"}, DropUnknownScopes: true})
	if status, out := tokenRequest(t, drop, url.Values{"grant_type": {"client_credentials"}, "scope": {"notes:read orgs:write"}, "resource": {mcpURL}}, true); status != 200 || out["scope"] != "notes:read" {
		t.Fatalf("silently dropping server: %d %v", status, out)
	}
	if status, out := tokenRequest(t, s, url.Values{"grant_type": {"client_credentials"}, "scope": {"notes:read"}}, true); status != 400 || out["error"] != "invalid_target" {
		t.Fatalf("missing resource: %d %v", status, out)
	}
}

func TestConsentPage(t *testing.T) {
	s := start(t, authtest.Options{})
	resp, err := http.Get(s.URL + "/authorize?" + authParams().Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Quickstart", "127.0.0.1:4567", "notes:read", "not for production"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("consent page lacks %q", want)
		}
	}
	form := authParams()
	form.Set("decision", "approve")
	resp, err = noRedirect.PostForm(s.URL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("code") == "" {
		t.Fatalf("approval gave %v", loc)
	}
	form.Set("decision", "deny")
	resp, _ = noRedirect.PostForm(s.URL+"/authorize", form)
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("iss") != s.URL { // RFC 9207: errors name the issuer too
		t.Fatalf("denial gave %v", loc)
	}
}

func TestKeyRotationAndJWKSFailures(t *testing.T) {
	s := start(t, authtest.Options{})
	a, err := auth.New(context.Background(), auth.Config{Resource: mcpURL, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: s.URL}}, KeyRefreshMinGap: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mint := func() string {
		return s.Mint(authtest.TokenRequest{Audience: []string{mcpURL}, Scopes: []string{"notes:read"}})
	}
	if _, err := verify(a, mint()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(a, mint()); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	s.RotateKey()
	s.SetJWKSFailure(authtest.JWKSError)
	if _, err := verify(a, mint()); !errors.Is(err, auth.ReasonKeysetUnavailable) {
		t.Fatalf("JWKS failing: %v", err)
	}
	s.SetJWKSFailure(authtest.JWKSOK)
	if _, err := verify(a, mint()); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	expired := s.Mint(authtest.TokenRequest{Audience: []string{mcpURL}, TTL: -time.Hour})
	if _, err := verify(a, expired); !errors.Is(err, auth.ReasonExpired) {
		t.Fatalf("expired mint: %v", err)
	}
}
