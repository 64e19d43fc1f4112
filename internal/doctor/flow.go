package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/mcpauth/mcpauth/internal/capped"
	"github.com/mcpauth/mcpauth/scopes"
)

// checkFlow runs a headless authorization-code + PKCE flow (PKCE and the
// token exchange by golang.org/x/oauth2, as a Go client would) and calls
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
		var ok bool
		if clientID, ok = r.register(name, redirect); !ok {
			return false
		}
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
	conf := &oauth2.Config{
		ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Scopes: strings.Fields(scope),
		Endpoint: oauth2.Endpoint{AuthURL: r.as.AuthorizationEndpoint, TokenURL: r.as.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
	}
	if secret != "" {
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	resource := oauth2.SetAuthURLParam("resource", r.prm.Resource)
	verifier, state := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()[:16]
	code, ok := r.authorize(name, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), resource), redirect, state)
	if !ok {
		return false
	}
	tok, err := conf.Exchange(context.WithValue(r.ctx, oauth2.HTTPClient, r.client), code, oauth2.VerifierOption(verifier), resource)
	if err != nil {
		seen := err.Error()
		if re := (*oauth2.RetrieveError)(nil); errors.As(err, &re) && re.Response != nil {
			seen = fmt.Sprintf("HTTP %d %s: %s", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription)
		}
		r.add(Check{Name: name + " token", Status: Fail, Expected: "200 with an access_token", Seen: seen})
		return false
	}
	granted, _ := tok.Extra("scope").(string)
	r.add(Check{Name: name + " token", Status: Pass, Seen: fmt.Sprintf("scope %q", granted)})
	r.checkRefreshToken(name, scope, tok.RefreshToken != "")
	r.inspectToken(tok.AccessToken, name+" token")
	r.toolsList(name, tok.AccessToken)
	return true
}

// register registers a public client by Dynamic Client Registration, as
// MCP clients do, and returns its client_id.
func (r *run) register(name, redirect string) (string, bool) {
	if r.as.RegistrationEndpoint == "" {
		r.add(Check{Name: name, Status: Fail, Expected: "a registration_endpoint", Seen: "none", Fix: "enable Dynamic Client Registration, or use another flow"})
		return "", false
	}
	body, err := json.Marshal(map[string]any{"redirect_uris": []string{redirect}, "token_endpoint_auth_method": "none",
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"}, "client_name": "mcpauth doctor"})
	if err != nil {
		r.add(Check{Name: name + " registration", Status: Fail, Seen: err.Error()})
		return "", false
	}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, r.as.RegistrationEndpoint, strings.NewReader(string(body)))
	if err != nil {
		r.add(Check{Name: name + " registration", Status: Fail, Seen: err.Error()})
		return "", false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, b, err := r.do(req)
	if err != nil {
		r.add(Check{Name: name + " registration", Status: Fail, Seen: err.Error()})
		return "", false
	}
	var out struct {
		ClientID    string `json:"client_id"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		r.add(Check{Name: name + " registration", Status: Fail, Expected: "a JSON registration response (RFC 7591)",
			Seen: fmt.Sprintf("HTTP %d, a body that does not decode: %v", resp.StatusCode, err)})
		return "", false
	}
	if resp.StatusCode != http.StatusCreated || out.ClientID == "" {
		r.add(Check{Name: name + " registration", Status: Fail, Expected: "201 with a client_id", Seen: fmt.Sprintf("HTTP %d %s: %s", resp.StatusCode, out.Error, out.Description),
			Fix: "accept loopback redirect URIs and public clients (token_endpoint_auth_method none)"})
		return "", false
	}
	r.add(Check{Name: name + " registration", Status: Pass, Seen: "client_id " + out.ClientID})
	return out.ClientID, true
}

// maxHops bounds the redirects the doctor follows from the authorization
// endpoint back to the redirect URI (an authorization proxy sends the
// browser upstream and back).
const maxHops = 10

// authorize follows authURL as a user agent would, through the redirects of
// auto-approving servers (keeping their cookies), and returns the code of
// the redirect to the client.
func (r *run) authorize(name, authURL, redirect, state string) (string, bool) {
	jar, _ := cookiejar.New(nil)
	var (
		resp *http.Response
		body []byte
		loc  *url.URL
		err  error
		at   string // the URL of the last answer
	)
	for next, hop := authURL, 0; ; hop++ {
		at = next
		req, rerr := http.NewRequestWithContext(r.ctx, http.MethodGet, next, nil)
		if rerr != nil {
			r.add(Check{Name: name + " authorize", Status: Fail, Seen: rerr.Error()})
			return "", false
		}
		for _, c := range jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		if resp, body, err = r.do(req); err != nil {
			r.add(Check{Name: name + " authorize", Status: Fail, Seen: err.Error()})
			return "", false
		}
		jar.SetCookies(req.URL, resp.Cookies())
		loc, err = resp.Location()
		if err != nil || resp.StatusCode/100 != 3 || strings.HasPrefix(loc.String(), redirect) || hop == maxHops {
			break
		}
		next = loc.String()
	}
	if resp.StatusCode/100 != 3 || err != nil || !strings.HasPrefix(loc.String(), redirect) {
		seen, fix := fmt.Sprintf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Location")), "run the authorization server with auto-approval, or run the flow with a real client"
		if resp.StatusCode == http.StatusOK {
			// A page stopped the flow: name it, and whose it is.
			page := redactedURL(at)
			if title := pageTitle(body); title != "" {
				page += " (\"" + title + "\")"
			}
			seen = "a page that needs a user: " + page
			fix = "approve it in a browser, or run the server that shows it with auto-approval (the examples' -auto-approve); behind an authorization proxy this may be the upstream's sign-in page"
		}
		r.add(Check{Name: name + " authorize", Status: Fail, Expected: "a redirect to " + redirect + " (the server must approve without a user for this check)",
			Seen: seen, Fix: fix})
		return "", false
	}
	q := loc.Query()
	switch {
	case q.Get("error") != "":
		r.add(Check{Name: name + " authorize", Status: Fail, Seen: q.Get("error") + ": " + q.Get("error_description")})
		return "", false
	case q.Get("state") != state:
		r.add(Check{Name: name + " authorize", Status: Fail, Expected: "state echoed", Seen: q.Get("state"), Fix: "return state unchanged"})
		return "", false
	case r.as.AuthorizationResponseISSParameterSupported && q.Get("iss") != r.as.Issuer:
		r.add(Check{Name: name + " authorize", Status: Fail, Expected: "iss " + r.as.Issuer + " (RFC 9207)", Seen: q.Get("iss")})
		return "", false
	}
	r.add(Check{Name: name + " authorize", Status: Pass})
	return q.Get("code"), true
}

// checkRefreshToken warns when the token response carries a refresh token
// the authorization request did not ask for with offline_access. Clients
// that hold one answer a 403 insufficient_scope by refreshing (the
// TypeScript SDK v1 does), and a refresh cannot widen scope (RFC 6749 §6):
// they never step up.
func (r *run) checkRefreshToken(name, scope string, issued bool) {
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
	if resp, _, err := r.post(token, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, h); err != nil || resp.StatusCode != http.StatusAccepted {
		r.add(Check{Name: name + " initialized", Status: Warn, Expected: "202 for notifications/initialized", Seen: seenOf(resp, err)})
	}
	resp, body, err := r.post(token, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, h)
	if err != nil || resp.StatusCode != http.StatusOK {
		r.add(Check{Name: name + " tools/list", Status: Fail, Expected: "200", Seen: seenOf(resp, err)})
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
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		r.add(Check{Name: name + " tools/list", Status: Fail, Expected: "a JSON-RPC result", Seen: fmt.Sprintf("%q does not decode: %v", strings.TrimSpace(s), err)})
		return
	}
	var names []string
	for _, t := range out.Result.Tools {
		names = append(names, t.Name)
	}
	r.add(Check{Name: name + " tools/list", Status: Pass, Seen: fmt.Sprintf("%d tools: %s", len(names), strings.Join(names, ", "))})
}

// seenOf describes a response, or the error that took its place.
func seenOf(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("HTTP %d", resp.StatusCode)
}

// maxResponseBytes bounds every response body the doctor reads.
const maxResponseBytes = 1 << 20

// do sends req and reads its body, at most maxResponseBytes of it.
func (r *run) do(req *http.Request) (*http.Response, []byte, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, over, err := capped.ReadAll(resp.Body, maxResponseBytes, resp.ContentLength)
	switch {
	case err != nil:
		return resp, nil, fmt.Errorf("reading the response of %s: %w", req.URL.Redacted(), err)
	case over:
		return resp, nil, fmt.Errorf("the response of %s is larger than %d bytes", req.URL.Redacted(), maxResponseBytes)
	}
	return resp, b, nil
}

// pageTitle is the <title> of an HTML page, trimmed and bounded, or "".
func pageTitle(page []byte) string {
	lower := bytes.ToLower(page)
	i := bytes.Index(lower, []byte("<title>"))
	if i < 0 {
		return ""
	}
	rest := page[i+len("<title>"):]
	j := bytes.Index(bytes.ToLower(rest), []byte("</title>"))
	if j < 0 {
		return ""
	}
	title := strings.Join(strings.Fields(html.UnescapeString(string(rest[:j]))), " ")
	if len(title) > 120 {
		title = title[:120] + "..."
	}
	return title
}

// redactedURL is u without its query: the page's address, no codes or states.
func redactedURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.RawQuery = ""
	return p.Redacted()
}
