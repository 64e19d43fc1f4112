package clienttest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
)

// The PKCE pair of RFC 7636 appendix B: PKCEChallenge is the S256 of
// PKCEVerifier.
const (
	PKCEVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	PKCEChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

// CodeFlow is the authorization-code flow with PKCE as a test client runs
// it against an authorization server at Issuer (its /authorize and /token),
// the one copy of it the tests share: the authorization request, the
// browser that approves it, and the token request.
type CodeFlow struct {
	Issuer       string
	ClientID     string
	ClientSecret string // client_secret_basic when set; a public client sends client_id in the form
	RedirectURI  string
	Scope        string // "" sends none
	Resource     string // "" sends none
	State        string // "" sends none
	// Header is sent with every token request: a DPoP proof.
	Header http.Header
}

// Params returns the authorization request's parameters, to send as they
// are or changed.
func (f CodeFlow) Params() url.Values {
	p := url.Values{"response_type": {"code"}, "client_id": {f.ClientID}, "redirect_uri": {f.RedirectURI},
		"code_challenge": {PKCEChallenge}, "code_challenge_method": {"S256"}}
	for k, v := range map[string]string{"scope": f.Scope, "resource": f.Resource, "state": f.State} {
		if v != "" {
			p.Set(k, v)
		}
	}
	return p
}

// AuthorizeURL returns the authorization request URL with params.
func (f CodeFlow) AuthorizeURL(params url.Values) string {
	return f.Issuer + "/authorize?" + params.Encode()
}

// Code approves the authorization request in a new browser (ApproveUntil)
// and returns the code the redirect carries.
func (f CodeFlow) Code() (string, error) {
	q, err := ApproveUntil(f.AuthorizeURL(f.Params()), f.RedirectURI)
	if err != nil {
		return "", err
	}
	if q.Get("code") == "" {
		return "", fmt.Errorf("the redirect carries no code: %v", q)
	}
	return q.Get("code"), nil
}

// CodeForm returns the token request that redeems code.
func (f CodeFlow) CodeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {f.RedirectURI}, "code_verifier": {PKCEVerifier}}
}

// Token posts form to the token endpoint as this client and returns the
// status and the decoded JSON answer.
func (f CodeFlow) Token(form url.Values) (int, map[string]any, error) {
	if f.ClientID != "" && f.ClientSecret == "" && form.Get("client_id") == "" {
		form = maps.Clone(form) // Set replaces the slice: the caller's stays
		form.Set("client_id", f.ClientID)
	}
	req, err := http.NewRequest(http.MethodPost, f.Issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range f.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if f.ClientSecret != "" {
		req.SetBasicAuth(f.ClientID, f.ClientSecret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, nil
}

// Run is the whole flow: Code, then the token request that redeems it.
func (f CodeFlow) Run() (int, map[string]any, error) {
	code, err := f.Code()
	if err != nil {
		return 0, nil, err
	}
	return f.Token(f.CodeForm(code))
}

// Register registers a client at issuer's /register endpoint (RFC 7591)
// with the metadata document metadata and returns its client_id.
func Register(issuer, metadata string) (string, error) {
	resp, err := http.Post(issuer+"/register", "application/json", strings.NewReader(metadata))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var reg struct {
		ClientID string `json:"client_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&reg)
	if resp.StatusCode != http.StatusCreated || reg.ClientID == "" {
		return "", fmt.Errorf("registration at %s: HTTP %d, client_id %q", issuer, resp.StatusCode, reg.ClientID)
	}
	return reg.ClientID, nil
}

// ClientCredentials gets an access token for scope and resource with the
// confidential client id and secret (client_secret_basic) at issuer.
func ClientCredentials(issuer, id, secret, scope, resource string) (string, error) {
	status, out, err := CodeFlow{Issuer: issuer, ClientID: id, ClientSecret: secret}.Token(url.Values{
		"grant_type": {"client_credentials"}, "scope": {scope}, "resource": {resource}})
	if err != nil {
		return "", err
	}
	tok, _ := out["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		return "", fmt.Errorf("client_credentials at %s: HTTP %d %v", issuer, status, out)
	}
	return tok, nil
}
