package security

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/mcpauth/mcpauth/internal/challenge"
	"github.com/mcpauth/mcpauth/internal/clienttest"
)

var update = flag.Bool("update", false, "rewrite SECURITY.md from the catalogue")

// observed is what an attack got.
type observed struct {
	status       int
	reason       string // mcpauth reason code, or the OAuth / registration error code
	challenge    string // the challenge's error parameter; "-" when there is no challenge
	accepted     bool   // the attack got what it wanted
	location     *url.URL
	body         string // a page's text, where a row looks into it
	refreshToken string // a token response's
}

// attack is one row of the catalogue.
type attack struct {
	category, name string
	run            func(t *testing.T, e *env) observed
	status         int
	reason         string
	challenge      string
	control        bool // a legitimate input that must be accepted, for contrast
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"cat","version":"1"}}}`

func toolBody(name string) string {
	return `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + name + `","arguments":{}}}`
}

// send posts body to target with the given headers and reads the outcome.
func (e *env) send(t *testing.T, target, query string, header http.Header, body string) observed {
	t.Helper()
	req, _ := http.NewRequest("POST", target+query, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	before := e.toolRuns.Load()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	o := observed{status: resp.StatusCode, challenge: "-"}
	if c := resp.Header.Get("WWW-Authenticate"); c != "" {
		p, err := challenge.Parse(c)
		if err != nil {
			t.Fatalf("malformed challenge %q", c)
		}
		o.challenge = p["error"]
	}
	var b struct {
		Reason string `json:"reason"`
		Error  struct {
			Data struct {
				Reason string `json:"reason"`
			} `json:"data"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &b)
	o.reason = b.Reason
	if o.reason == "" {
		o.reason = b.Error.Data.Reason
	}
	o.accepted = resp.StatusCode/100 == 2 || e.toolRuns.Load() > before
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		e.lastSession = sid
	}
	return o
}

func bearerHeader(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// tokenAttack sends tok to the default resource with an initialize call.
func tokenAttack(build func(t *testing.T, e *env) string) func(*testing.T, *env) observed {
	return func(t *testing.T, e *env) observed {
		return e.send(t, e.mcpURL, "", bearerHeader(build(t, e)), initBody)
	}
}

func tamper(tok string, part int, f func([]byte) []byte) string {
	parts := strings.Split(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[part])
	parts[part] = base64.RawURLEncoding.EncodeToString(f(b))
	return strings.Join(parts, ".")
}

func tokenRows() []attack {
	const tm, ti = "token_malformed", "invalid_token"
	row := func(name string, build func(t *testing.T, e *env) string, status int, reason, chal string) attack {
		return attack{category: "token", name: name, run: tokenAttack(build), status: status, reason: reason, challenge: chal}
	}
	claimsRow := func(name string, set map[string]any, reason string) attack {
		return row(name, func(t *testing.T, e *env) string { return e.as.MintClaims(e.with(set), nil) }, 401, reason, ti)
	}
	var rows []attack
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		rows = append(rows, row("alg "+alg+" (unsigned token)", func(t *testing.T, e *env) string {
			return unsignedToken(map[string]any{"alg": alg, "typ": "at+jwt"}, e.with(nil))
		}, 401, "algorithm_not_allowed", ti))
	}
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		rows = append(rows, row(alg+" signed with the server's RSA public key (algorithm confusion)", func(t *testing.T, e *env) string {
			kid, der := e.publishedKey(t)
			return hmacToken(alg, kid, der, e.with(nil))
		}, 401, "algorithm_not_allowed", ti))
	}
	return append(rows,
		row("HS256 signed with an EC public key", func(t *testing.T, e *env) string {
			return hmacToken("HS256", "ec", publicDER(&e.foreignEC.PublicKey), e.with(nil))
		}, 401, "algorithm_not_allowed", ti),
		row("kid of the server's key, signed with another key", func(t *testing.T, e *env) string {
			kid, _ := e.publishedKey(t)
			return e.signForeign(jwa.RS256, e.with(nil), map[string]any{"kid": kid})
		}, 401, "signature_invalid", ti),
		row("kid with path traversal characters", func(t *testing.T, e *env) string {
			return e.signForeign(jwa.RS256, e.with(nil), map[string]any{"kid": "../../../../etc/passwd"})
		}, 401, "key_unknown", ti),
		row("kid with SQL injection characters", func(t *testing.T, e *env) string {
			return e.signForeign(jwa.RS256, e.with(nil), map[string]any{"kid": "' OR '1'='1' --"})
		}, 401, "key_unknown", ti),
		row("jku header pointing at the attacker's key set (never fetched)", func(t *testing.T, e *env) string {
			return e.signForeign(jwa.RS256, e.with(nil), map[string]any{"kid": "attacker", "jku": e.trap(t) + "/jwks"})
		}, 401, "key_unknown", ti),
		row("x5u header pointing at the attacker's certificate (never fetched)", func(t *testing.T, e *env) string {
			return e.signForeign(jwa.RS256, e.with(nil), map[string]any{"kid": "attacker", "x5u": e.trap(t) + "/cert.pem"})
		}, 401, "key_unknown", ti),
		row("jwk header embedding the attacker's public key", func(t *testing.T, e *env) string {
			pub, _ := jwk.FromRaw(&e.foreignRSA.PublicKey)
			_ = pub.Set(jwk.KeyIDKey, "attacker")
			return e.signForeign(jwa.RS256, e.with(nil), map[string]any{"kid": "attacker", "jwk": pub})
		}, 401, "key_unknown", ti),
		row("crit header with an extension the server does not know", func(t *testing.T, e *env) string {
			return e.as.MintClaims(e.with(nil), map[string]any{"crit": []string{"x-escalate"}, "x-escalate": true})
		}, 401, tm, ti),
		row("nested JWT (cty JWT)", func(t *testing.T, e *env) string {
			return e.as.MintClaims(e.with(nil), map[string]any{"cty": "JWT"})
		}, 401, tm, ti),
		row("JWE (five parts) where a JWS is expected", func(t *testing.T, e *env) string {
			return "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn"
		}, 401, tm, ti),
		row("tampered header (typ changed, signature kept)", func(t *testing.T, e *env) string {
			return tamper(e.mint(e.mcpURL, "notes:read", nil), 0, func(b []byte) []byte { return []byte(strings.Replace(string(b), "at+jwt", "JWT", 1)) })
		}, 401, "signature_invalid", ti),
		row("tampered payload (scope escalated, signature kept)", func(t *testing.T, e *env) string {
			return tamper(e.mint(e.mcpURL, "notes:read", nil), 1, func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `"notes:read"`, `"notes:read notes:write"`, 1))
			})
		}, 401, "signature_invalid", ti),
		row("tampered signature (one bit)", func(t *testing.T, e *env) string {
			return tamper(e.mint(e.mcpURL, "notes:read", nil), 2, func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
		}, 401, "signature_invalid", ti),
		row("signature stripped", func(t *testing.T, e *env) string {
			tok := e.mint(e.mcpURL, "notes:read", nil)
			return tok[:strings.LastIndexByte(tok, '.')+1]
		}, 401, tm, ti),
		row("truncated token", func(t *testing.T, e *env) string {
			tok := e.mint(e.mcpURL, "notes:read", nil)
			return tok[:strings.IndexByte(tok, '.')+10]
		}, 401, tm, ti),
		row("extra segments", func(t *testing.T, e *env) string { return e.mint(e.mcpURL, "notes:read", nil) + ".AAAA" }, 401, tm, ti),
		row("bad base64 in the payload", func(t *testing.T, e *env) string {
			parts := strings.Split(e.mint(e.mcpURL, "notes:read", nil), ".")
			return parts[0] + ".@@@@." + parts[2]
		}, 401, tm, ti),
		row("payload that is not JSON", func(t *testing.T, e *env) string {
			return tamper(e.mint(e.mcpURL, "notes:read", nil), 1, func([]byte) []byte { return []byte("not json") })
		}, 401, tm, ti),
		row("huge token (9 KB, over the 8 KB limit, refused unparsed)", func(t *testing.T, e *env) string { return strings.Repeat("A", 9<<10) }, 400, "token_too_large", "invalid_request"),
		claimsRow("exp missing", map[string]any{"exp": nil}, "expired"),
		claimsRow("exp in the past (replayed expired token)", map[string]any{"exp": 1000000000}, "expired"),
		claimsRow("exp not a number", map[string]any{"exp": "tomorrow"}, "claim_invalid"),
		claimsRow("nbf in the future", map[string]any{"nbf": 4000000000}, "not_yet_valid"),
		claimsRow("iat far in the future", map[string]any{"iat": 4000000000}, "not_yet_valid"),
		claimsRow("iss missing", map[string]any{"iss": nil}, "issuer_untrusted"),
		claimsRow("iss of another server", map[string]any{"iss": "https://evil.example"}, "issuer_untrusted"),
		row("iss with a trailing slash added", func(t *testing.T, e *env) string {
			return e.as.MintClaims(e.with(map[string]any{"iss": e.as.URL + "/"}), nil)
		}, 401, "issuer_untrusted", ti),
		claimsRow("aud missing", map[string]any{"aud": nil}, "audience_mismatch"),
		claimsRow("aud of another resource", map[string]any{"aud": "https://other.example/mcp"}, "audience_mismatch"),
		claimsRow("aud array without this resource", map[string]any{"aud": []string{"https://a.example", "account"}}, "audience_mismatch"),
		row("aud is only the origin", func(t *testing.T, e *env) string {
			return e.as.MintClaims(e.with(map[string]any{"aud": e.srv.URL}), nil)
		}, 401, "audience_mismatch", ti),
		row("aud with a trailing slash added", func(t *testing.T, e *env) string {
			return e.as.MintClaims(e.with(map[string]any{"aud": e.mcpURL + "/"}), nil)
		}, 401, "audience_mismatch", ti),
		row("token for another resource minted by the same server", func(t *testing.T, e *env) string {
			return e.mint(e.strictURL, "notes:read notes:write", nil)
		}, 401, "audience_mismatch", ti),
		claimsRow("aud a number", map[string]any{"aud": 42}, "claim_invalid"),
		claimsRow("sub missing", map[string]any{"sub": nil}, "claim_invalid"),
		claimsRow("scope claim a number", map[string]any{"scope": 7}, "claim_invalid"),
		claimsRow("scope claim an object", map[string]any{"scope": map[string]any{"notes:write": true}}, "claim_invalid"),
		claimsRow("scope claim an array with a number", map[string]any{"scope": []any{"notes:read", 1}}, "claim_invalid"),
		claimsRow(`scope with a quote to break out of the challenge`, map[string]any{"scope": `notes:read x", error="none`}, "claim_invalid"),
		attack{category: "token", name: "typ JWT where at+jwt is enforced", run: func(t *testing.T, e *env) observed {
			return e.send(t, e.strictURL, "", bearerHeader(e.mint(e.strictURL, "notes:read", map[string]any{"typ": "JWT"})), initBody)
		}, status: 401, reason: "typ_invalid", challenge: ti},
	)
}

func requestRows() []attack {
	row := func(name string, run func(t *testing.T, e *env) observed, status int, reason, chal string) attack {
		return attack{category: "request", name: name, run: run, status: status, reason: reason, challenge: chal}
	}
	return []attack{
		row("no Authorization header", func(t *testing.T, e *env) observed { return e.send(t, e.mcpURL, "", nil, initBody) }, 401, "token_missing", ""),
		row("empty Bearer credentials", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", http.Header{"Authorization": {"Bearer "}}, initBody)
		}, 400, "request_invalid", "invalid_request"),
		row("Basic credentials", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", http.Header{"Authorization": {"Basic YWxpY2U6cHc="}}, initBody)
		}, 401, "token_missing", ""),
		row("two Authorization headers", func(t *testing.T, e *env) observed {
			tok := e.mint(e.mcpURL, "notes:read", nil)
			return e.send(t, e.mcpURL, "", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, initBody)
		}, 400, "request_invalid", "invalid_request"),
		row("token in the query string", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "?access_token="+e.mint(e.mcpURL, "notes:read", nil), nil, initBody)
		}, 400, "request_invalid", "invalid_request"),
		row("token in a form body", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "access_token="+e.mint(e.mcpURL, "notes:read", nil))
		}, 400, "request_invalid", "invalid_request"),
		{category: "request", name: "lowercase bearer scheme (RFC 6750: case-insensitive)", control: true, run: func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", http.Header{"Authorization": {"bearer " + e.mint(e.mcpURL, "notes:read", nil)}}, initBody)
		}, status: 200, challenge: "-"},
		row("Authorization header over 8 KB", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", bearerHeader(strings.Repeat("x", 9000)), initBody)
		}, 400, "token_too_large", "invalid_request"),
		row("non-UTF-8 bytes in the Authorization header", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", bearerHeader("abc\xff\xfedef"), initBody)
		}, 401, "token_malformed", "invalid_token"),
		row("session id created by another subject (session hijack)", func(t *testing.T, e *env) observed {
			alice := e.send(t, e.mcpURL, "", bearerHeader(e.mint(e.mcpURL, "notes:read", nil)), initBody)
			_ = alice
			sid := e.lastSession
			mallory := e.as.Mint(authtestReq(e.mcpURL, "mallory"))
			return e.send(t, e.mcpURL, "", http.Header{"Authorization": {"Bearer " + mallory}, "Mcp-Session-Id": {sid}}, toolBody("whoami"))
		}, 404, "session_mismatch", "-"),
		row("JSON-RPC body over the limit", func(t *testing.T, e *env) observed {
			body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note","arguments":{"t":"` + strings.Repeat("a", 70<<10) + `"}}}`
			return e.send(t, e.mcpURL, "", bearerHeader(e.mint(e.mcpURL, "notes:read notes:write", nil)), body)
		}, 413, "request_too_large", "-"),
		row("tool call without the tool's scope", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", bearerHeader(e.mint(e.mcpURL, "notes:read", nil)), toolBody("add_note"))
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("batch hiding a guarded call behind a harmless one", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", bearerHeader(e.mint(e.mcpURL, "notes:read", nil)), `[{"jsonrpc":"2.0","id":1,"method":"ping"},`+toolBody("add_note")+`]`)
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("guarded call followed by trailing data (a first-value decoder runs it)", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", bearerHeader(e.mint(e.mcpURL, "notes:read", nil)), toolBody("add_note")+` trailing`)
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("harmless message, then a guarded call, back to back", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", bearerHeader(e.mint(e.mcpURL, "notes:read", nil)), `{"jsonrpc":"2.0","id":0,"method":"ping"}`+toolBody("add_note"))
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("Mcp-Name header naming a free tool, body calling a guarded one", func(t *testing.T, e *env) observed {
			h := bearerHeader(e.mint(e.mcpURL, "notes:read", nil))
			h.Set("Mcp-Method", "tools/call")
			h.Set("Mcp-Name", "whoami")
			return e.send(t, e.mcpURL, "", h, toolBody("add_note"))
		}, 400, "header_mismatch", "-"),
		row("Mcp-Method header disagreeing with the body", func(t *testing.T, e *env) observed {
			h := bearerHeader(e.mint(e.mcpURL, "notes:read", nil))
			h.Set("Mcp-Method", "tools/list")
			return e.send(t, e.mcpURL, "", h, toolBody("add_note"))
		}, 400, "header_mismatch", "-"),
		row("Mcp-Name header with non-UTF-8 bytes", func(t *testing.T, e *env) observed {
			h := bearerHeader(e.mint(e.mcpURL, "notes:read", nil))
			h.Set("Mcp-Method", "tools/call")
			h.Set("Mcp-Name", "add_note\xff")
			return e.send(t, e.mcpURL, "", h, toolBody("add_note"))
		}, 400, "header_mismatch", "-"),
		row(`tool name given twice ("name" and "name")`, func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", bearerHeader(e.mint(e.mcpURL, "notes:read", nil)),
				`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"add_note"}}`)
		}, 400, "request_invalid", "invalid_request"),
		row(`tool name given in two letter cases ("name" and "NAME")`, func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", bearerHeader(e.mint(e.mcpURL, "notes:read", nil)),
				`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","NAME":"add_note"}}`)
		}, 400, "request_invalid", "invalid_request"),
		row(`params member spelled with a Unicode long s ("paramſ")`, func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", bearerHeader(e.mint(e.mcpURL, "notes:read", nil)),
				`{"jsonrpc":"2.0","id":1,"method":"tools/call","paramſ":{"name":"add_note"}}`)
		}, 403, "scope_insufficient", "insufficient_scope"),
	}
}

// trap returns the URL of a server that fails the test if anything fetches from it.
func (e *env) trap(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the verifier fetched %s from a URL in a token header", r.URL)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// register posts a DCR request.
func (e *env) register(t *testing.T, contentType, body string) observed {
	resp, err := http.Post(e.as.URL+"/register", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	code, _ := out["error"].(string)
	return observed{status: resp.StatusCode, reason: code, challenge: "-", accepted: resp.StatusCode == http.StatusCreated}
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize runs /authorize on as and reads the outcome: a code is acceptance.
func authorizeAt(t *testing.T, asURL string, params url.Values) observed {
	resp, err := noFollow.Get(asURL + "/authorize?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	o := observed{status: resp.StatusCode, challenge: "-"}
	if resp.StatusCode == http.StatusFound {
		loc, _ := url.Parse(resp.Header.Get("Location"))
		o.location = loc
		o.reason, o.accepted = loc.Query().Get("error"), loc.Query().Get("code") != ""
		return o
	}
	b, _ := io.ReadAll(resp.Body)
	o.body = string(b)
	o.reason, _, _ = strings.Cut(strings.TrimSpace(o.body), ":")
	return o
}

const challengeS256 = clienttest.PKCEChallenge
const verifierS256 = clienttest.PKCEVerifier

func (e *env) authParams(clientID, redirect string) url.Values {
	return clienttest.CodeFlow{ClientID: clientID, RedirectURI: redirect, Scope: "notes:read offline_access", State: "s", Resource: e.mcpURL}.Params()
}

func (e *env) exchange(t *testing.T, form url.Values) observed {
	req, _ := http.NewRequest("POST", e.as.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("quickstart-client", "quickstart-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	code, _ := out["error"].(string)
	o := observed{status: resp.StatusCode, reason: code, challenge: "-", accepted: resp.StatusCode == 200}
	if rt, ok := out["refresh_token"].(string); ok {
		e.lastRefresh = rt
	}
	return o
}

func (e *env) code(t *testing.T) string {
	resp, err := noFollow.Get(e.as.URL + "/authorize?" + e.authParams("quickstart-client", "http://127.0.0.1:5555/callback").Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query().Get("code")
}

func codeForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:5555/callback"}, "code_verifier": {verifier}}
}

func registrationRows() []attack {
	dcr := func(name, contentType, body string, status int, code string) attack {
		return attack{category: "registration", name: "DCR: " + name, run: func(t *testing.T, e *env) observed { return e.register(t, contentType, body) },
			status: status, reason: code, challenge: "-"}
	}
	many := make([]string, 1000)
	for i := range many {
		many[i] = fmt.Sprintf(`"https://app.example.com/cb%d"`, i)
	}
	cimd := func(name string, onLoopbackAS bool, id func(e *env) string, status int, code string) attack {
		return attack{category: "registration", name: "CIMD: " + name, run: func(t *testing.T, e *env) observed {
			asURL := e.as.URL
			if onLoopbackAS {
				asURL = e.asLoopback.URL
			}
			return authorizeAt(t, asURL, e.authParams(id(e), "http://127.0.0.1:5555/callback"))
		}, status: status, reason: code, challenge: "-"}
	}
	doc := func(path string) func(e *env) string { return func(e *env) string { return e.cimd.URL + path } }
	redirect := func(name, uri, registered string) attack {
		return attack{category: "registration", name: "redirect_uri mismatch: " + name, run: func(t *testing.T, e *env) observed {
			return authorizeAt(t, e.as.URL, e.authParams("quickstart-client", uri))
		}, status: 400, reason: "invalid_request", challenge: "-"}
	}
	pkce := func(name string, run func(t *testing.T, e *env) observed, status int, code string) attack {
		return attack{category: "pkce", name: name, run: run, status: status, reason: code, challenge: "-"}
	}
	authMutated := func(mutate func(url.Values)) func(t *testing.T, e *env) observed {
		return func(t *testing.T, e *env) observed {
			p := e.authParams("quickstart-client", "http://127.0.0.1:5555/callback")
			mutate(p)
			return authorizeAt(t, e.as.URL, p)
		}
	}
	return []attack{
		dcr("http redirect URI on a public host", "application/json", `{"redirect_uris":["http://app.example.com/cb"]}`, 400, "invalid_redirect_uri"),
		dcr("javascript: redirect URI", "application/json", `{"redirect_uris":["javascript:alert(1)"]}`, 400, "invalid_redirect_uri"),
		dcr("redirect URI with a fragment", "application/json", `{"redirect_uris":["https://app.example.com/cb#x"]}`, 400, "invalid_redirect_uri"),
		dcr("wildcard redirect URI", "application/json", `{"redirect_uris":["https://*.example.com/cb"]}`, 400, "invalid_redirect_uri"),
		dcr("1,000 redirect URIs", "application/json", `{"redirect_uris":[`+strings.Join(many, ",")+`]}`, 400, "invalid_redirect_uri"),
		dcr("oversized request body", "application/json", `{"client_name":"`+strings.Repeat("a", 70<<10)+`"}`, 413, "invalid_client_metadata"),
		dcr("wrong content type", "application/x-www-form-urlencoded", `redirect_uris=https://app.example.com/cb`, 400, "invalid_client_metadata"),
		dcr("client chooses its own secret", "application/json", `{"redirect_uris":["https://app.example.com/cb"],"client_secret":"x"}`, 400, "invalid_client_metadata"),
		dcr("implicit grant", "application/json", `{"redirect_uris":["https://app.example.com/cb"],"grant_types":["implicit"]}`, 400, "invalid_client_metadata"),
		cimd("document on a private IP (SSRF)", false, func(*env) string { return "https://10.0.0.1/client.json" }, 400, "invalid_client"),
		cimd("document on the cloud metadata address (SSRF)", false, func(*env) string { return "https://169.254.169.254/client.json" }, 400, "invalid_client"),
		cimd("document on shared address space 100.64.0.0/10, where cloud metadata lives (SSRF)", false, func(*env) string { return "https://100.100.100.200/client.json" }, 400, "invalid_client"),
		cimd("document on NAT64 of the metadata address 64:ff9b::a9fe:a9fe (SSRF)", false, func(*env) string { return "https://[64:ff9b::a9fe:a9fe]/client.json" }, 400, "invalid_client"),
		cimd("document on IPv4-mapped private ::ffff:10.0.0.1 (SSRF)", false, func(*env) string { return "https://[::ffff:10.0.0.1]/client.json" }, 400, "invalid_client"),
		cimd("document on 6to4 of a private address 2002:a00:1:: (SSRF)", false, func(*env) string { return "https://[2002:a00:1::1]/client.json" }, 400, "invalid_client"),
		cimd("DNS name resolving to loopback (SSRF)", false, func(e *env) string {
			return strings.Replace(e.cimd.URL, "127.0.0.1", "localhost", 1) + "/client.json"
		}, 400, "invalid_client"),
		cimd("document answering with a redirect", true, doc("/redirect.json"), 400, "invalid_client"),
		cimd("oversized document", true, doc("/huge.json"), 400, "invalid_client"),
		cimd("client_id not equal to the document URL", true, doc("/mismatch.json"), 400, "invalid_client"),
		cimd("client secret in the document", true, doc("/secret.json"), 400, "invalid_client"),
		cimd("document that is not JSON", true, doc("/html.json"), 400, "invalid_client"),
		cimd("javascript: redirect URI in the document", true, doc("/javascript.json"), 400, "invalid_client"),
		redirect("trailing slash", "http://127.0.0.1:5555/callback/", ""),
		redirect("another port on a non-loopback host", "https://app.example.com:8443/callback", ""),
		redirect("scheme", "http://app.example.com/callback", ""),
		redirect("path", "http://127.0.0.1:5555/other", ""),
		redirect("another host", "https://evil.example.com/callback", ""),
		pkce("PKCE code_challenge missing", authMutated(func(p url.Values) { p.Del("code_challenge"); p.Del("code_challenge_method") }), 302, "invalid_request"),
		pkce("PKCE method plain", authMutated(func(p url.Values) { p.Set("code_challenge_method", "plain") }), 302, "invalid_request"),
		pkce("PKCE wrong code_verifier", func(t *testing.T, e *env) observed {
			return e.exchange(t, codeForm(e.code(t), strings.Repeat("x", 43)))
		}, 400, "invalid_grant"),
		pkce("PKCE code_verifier missing", func(t *testing.T, e *env) observed { return e.exchange(t, codeForm(e.code(t), "")) }, 400, "invalid_grant"),
		pkce("authorization code reused", func(t *testing.T, e *env) observed {
			c := e.code(t)
			if o := e.exchange(t, codeForm(c, verifierS256)); !o.accepted {
				t.Fatalf("first use refused: %+v", o)
			}
			return e.exchange(t, codeForm(c, verifierS256))
		}, 400, "invalid_grant"),
		pkce("refresh token reused after rotation", func(t *testing.T, e *env) observed {
			e.exchange(t, codeForm(e.code(t), verifierS256))
			old := e.lastRefresh
			if o := e.exchange(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}); !o.accepted {
				t.Fatalf("rotation refused: %+v", o)
			}
			return e.exchange(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}})
		}, 400, "invalid_grant"),
	}
}

func catalogue() []attack {
	return append(append(append(append(append(append(tokenRows(), requestRows()...), hardeningRows()...), goSDKRows()...), registrationRows()...), proxyRows()...), agentsRows()...)
}

func TestCatalogue(t *testing.T) {
	e := newEnv(t)
	rows := catalogue()
	var accepted atomic.Int64
	for _, a := range rows {
		t.Run(a.category+"/"+a.name, func(t *testing.T) {
			o := a.run(t, e)
			if o.accepted != a.control {
				accepted.Add(1)
				t.Errorf("accepted = %v, want %v (%+v)", o.accepted, a.control, o)
			}
			if o.status != a.status || o.reason != a.reason || o.challenge != a.challenge {
				t.Errorf("got %d %q challenge %q, want %d %q challenge %q", o.status, o.reason, o.challenge, a.status, a.reason, a.challenge)
			}
		})
	}
	if accepted.Load() != 0 {
		return
	}
	md := render(rows)
	const path = "../../SECURITY.md"
	if *update {
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got, _ := os.ReadFile(path); string(got) != md {
		t.Fatalf("SECURITY.md is out of date with the catalogue; run: go test ./internal/security -run TestCatalogue -update")
	}
}

func render(rows []attack) string {
	hostile := 0
	for _, a := range rows {
		if !a.control {
			hostile++
		}
	}
	var b strings.Builder
	b.WriteString(`# Security

## Reporting a vulnerability

Report vulnerabilities privately to the maintainers (a GitHub security advisory on this
repository); do not open a public issue. Include the inputs that reproduce it.

## Hostile input catalogue

Generated by ` + "`go test ./internal/security -run TestCatalogue -update`" + ` from the catalogue test,
which sends each input to a real mcp-go server protected by mcpauth, to the development
authorization server and to the registration endpoints, and fails if any answer differs from
this table. A change to the behaviour without a change to this file fails CI.

`)
	fmt.Fprintf(&b, "**%d hostile inputs, 0 accepted.** (%d legitimate control input, accepted as it must be.)\n\n", hostile, len(rows)-hostile)
	b.WriteString("| # | area | input | status | reason / error | challenge `error` | result |\n|---|---|---|---|---|---|---|\n")
	for i, a := range rows {
		result := "refused"
		if a.control {
			result = "accepted (control)"
		}
		reason, chal := a.reason, a.challenge
		if reason == "" {
			reason = "-"
		}
		switch chal {
		case "":
			chal = "(none: RFC 6750 §3.1)"
		case "-":
			chal = "-"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %d | `%s` | %s | %s |\n", i+1, a.category, strings.ReplaceAll(a.name, "|", "\\|"), a.status, reason, chal, result)
	}
	b.WriteString(`
## Faults

` + "`TestFaults`" + ` shows valid tokens under cached keys keep passing while the key set answers 500, garbage, a
50 MB body, a slow drip, a timeout or a TLS error, and that the server recovers; a token under an
unknown key gets 503 with Retry-After, never a 401. Authorization server metadata that cannot be
discovered at start-up makes ` + "`auth.New`" + ` fail fast, naming every URL tried (set ` + "`Issuer.JWKSURL`" + ` to start
without discovery; key sets are then fetched lazily). An introspection endpoint that is down gives 503.

## Load

` + "`TestSoak`" + ` (skipped with ` + "`-short`" + `; run by .ci/run) drives 200 concurrent clients for 30 seconds with valid,
invalid, expired and step-up requests while keys rotate twice, and checks every decision, that no
goroutine leaks, and that a flood of distinct junk tokens does not grow memory.
` + "`TestFloodsKeepMemoryFlat`" + ` sends 3,000 unknown 256-byte session ids (all 404, none kept), 100 session ids
of 512 KB (400), 1,000 initialize requests from one subject (100 sessions, then 503
` + "`session_limit`" + `) and 20 /authorize requests with 9 MB code challenges (400) to the real stack: the live heap
grows by about 10 MB (bound: 64 MB).

## Resource cost

No request costs more than a constant times its size. ` + "`BenchmarkAdversarialBody`" + ` and
` + "`BenchmarkAdversarialToken`" + ` (in ` + "`auth`" + `) send the worst shapes found, at the largest sizes accepted
(4 MiB bodies through the whole middleware, 16 KiB tokens through verification), and report each
as a multiple of a benign input of the same size (` + "`x_benign`" + `; target at most 5). One run, 2 cores:

| input | x benign |
|---|---|
| body: 64-message batch | 1.07 |
| body: nesting 2 MiB deep | 0.26 |
| body: escaped member names (` + "`\\u006e\\u0061`" + `) | 1.70 |
| body: escaped string argument | 0.86 |
| body: ~500,000 members in params | 2.18 |
| body: ~500,000 members at the top level | 1.63 |
| body: non-ASCII member names | 2.04 |
| body: ~2,000,000 tiny array values | 1.26 |
| body: whitespace padding | 1.01 |
| body: many values back to back | 0.11 (refused after 64 messages) |
| token: claim nested 6,000 deep | 0.92 |
| token: escaped claim names | 1.89 |
| token: ~1,300 claims | 1.88 |
| token: one claim name repeated ~2,000 times | 2.17 |

Before the hardening, 80,000 members in one object took 26 s of CPU (quadratic duplicate check), and a
16 KiB token with ~1,300 claims cost 12 times a one-claim token.

## Audit of the request path

Checked for the classes of the hardening review (anything quadratic, anything stored unbounded, anything
trusting ` + "`Host`" + `, any dispatch path that skips a check):

- **JSON scanners** (` + "`auth/json.go`" + `, operation and claim readers): one pass per nesting level the check
  reads (at most three), member names compared with a fixed set of five, never with each other; escaped
  names decoded into a stack buffer only when they could spell a member the check reads. Differential fuzz
  targets hold them to encoding/json.
- **Stored, keyed by request data**: session bindings (ids at most 256 visible-ASCII bytes, at most
  ` + "`MaxSessions`" + ` and ` + "`MaxSessionsPerSubject`" + `, idle expiry, released on 404 and DELETE); in-flight ids of
  sessionless requests (live only while their request is, keys at most 64 bytes or a SHA-256); the
  validated-token cache (only validated tokens, 100,000 entries and 64 MiB, never past ` + "`exp`" + `); DCR
  registrations (validated first; 100,000 clients and 256 MiB, then 503); DCR rate-limit keys (10,000, 128
  bytes, windowed); the CIMD document cache (10,000 and 64 MiB, 64 KiB each, validated before storing);
  the development server's codes, refresh tokens and revocations (bounded fields, capped, expiring). All
  are one bounded expiring cache (internal/cache): full, it sweeps at most once a second and refuses new
  entries rather than evicting held ones, so a full table costs no scan per request.
- **Host**: the resource URL, metadata URLs and challenges come from configuration, never from ` + "`Host`" + `;
  the loopback-only endpoints (trace, metrics) require a loopback connection, a loopback ` + "`Host`" + `, and no
  cross-site ` + "`Origin`" + `/` + "`Sec-Fetch-Site`" + `.
- **Dispatch**: mcp-go runs tools from the server's tools, task tools and a session's tools; resources
  from a session's resources, the server's, a session's templates and the server's templates. The
  HTTP check resolves all but the session ones; the gate ` + "`mcpgo.ServerOptions`" + ` installs (an
  OnRequestInitialization hook, which mcp-go runs before every request on every transport) resolves all
  of them with the session in view. Without the gate the HTTP check refuses what it cannot resolve.
  The go-sdk (auth/gosdk) runs tools, prompts, resources and templates from the server's registries;
  requirements declared with the Protector are checked at the HTTP level and again in a receiving
  middleware, on the params the SDK decoded itself, on every transport (in-memory included). A
  requirement written into a go-sdk item's _meta by hand, not through the Protector, is published but
  not enforced.
- **Error codes**: a refused operation's JSON-RPC error is -32010, clear of the implementation codes
  SDKs give meanings (the go-sdk's client closing, -32003, made its client drop the connection).

What mcp-go itself would need to fix (reported here, guarded by mcpauth where it can be):

- Sessionless requests share one id space: in-flight requests are keyed by JSON-RPC id alone
  (` + "`inflightKey`" + `), so any caller can cancel another's request. mcpauth binds those ids to their subject.
- Sessionless tasks are not isolated: ` + "`tasks/list`" + ` without a session lists every session's tasks, and
  ` + "`tasks/get`" + `/` + "`tasks/result`" + ` skip the session check when the caller has no session. mcpauth does not yet
  bind task ids to subjects; do not mix task tools with sessionless clients on a multi-user server.
- Sessions never expire unless ` + "`WithSessionIdleTTL`" + ` is set (` + "`mcpgo.TransportOptions`" + ` sets it).
- The task-augmented call path does not run tool handler middleware, and templates are matched in map
  order when several match a URI (mcpauth applies the requirements of all matching templates).
- There is no accessor for task tools or resource templates; mcpauth reads them through the server's own
  listing.
`)
	return b.String()
}
