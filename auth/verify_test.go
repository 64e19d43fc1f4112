package auth_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/challenge"
	"github.com/mcpauth/mcpauth/scopes"
)

const resource = "https://mcp.example.com/mcp"

// fakeClock is an injectable clock that tests move by hand.
type fakeClock struct{ t atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.t.Store(time.Now().UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.t.Add(int64(d)) }

// newAuth builds an Authenticator trusting as, with the issuer's key set
// discovered from its metadata over HTTP.
func newAuth(t testing.TB, as *testAS, mutate func(*auth.Config)) *auth.Authenticator {
	t.Helper()
	cfg := auth.Config{
		Tokens:         auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}},
		Resource:       resource,
		BaselineScopes: []string{"notes:read"},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := auth.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// echo is the protected handler: it answers with what TokenFromContext gives.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	tok := auth.TokenFromContext(r.Context())
	if tok == nil {
		http.Error(w, "no token in context", 500)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"sub": tok.Subject, "iss": tok.Issuer, "client_id": tok.ClientID, "aud": tok.Audience,
		"scopes": tok.Scopes.String(), "jti": tok.ID, "exp": tok.Expiry.Unix(), "iat": tok.IssuedAt.Unix(),
	})
})

// mcpServer is a real mcp-go Streamable HTTP server with no tools: refusals
// are checked with the handler the middleware really wraps.
func mcpServer() http.Handler {
	return server.NewStreamableHTTPServer(server.NewMCPServer("notes", "1.0.0"))
}

type result struct {
	status    int
	challenge map[string]string // parsed WWW-Authenticate, nil when absent
	rawChal   string
	body      map[string]any
	header    http.Header
}

func call(t testing.TB, h http.Handler, r *http.Request) result {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res := result{status: rec.Code, header: rec.Header()}
	if c := rec.Header().Get("WWW-Authenticate"); c != "" {
		res.rawChal = c
		p, err := challenge.Parse(c)
		if err != nil {
			t.Fatalf("malformed challenge %q: %v", c, err)
		}
		res.challenge = p
		if len(rec.Header().Values("WWW-Authenticate")) != 1 {
			t.Fatalf("more than one WWW-Authenticate header")
		}
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &res.body)
	return res
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://mcp.example.com/mcp", strings.NewReader(`{}`))
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestValidTokensPass(t *testing.T) {
	as := newTestAS(t)
	a := newAuth(t, as, nil)
	h := protect(a, echo)
	for _, kid := range []string{"rsa-1", "ec-1", "ed-1"} {
		t.Run(kid, func(t *testing.T) {
			res := call(t, h, bearer(as.mint(kid, as.claims(resource, "notes:read notes:write"), nil)))
			if res.status != 200 {
				t.Fatalf("status %d, body %v", res.status, res.body)
			}
			if res.body["sub"] != "user-123" || res.body["client_id"] != "client-abc" || res.body["scopes"] != "notes:read notes:write" ||
				res.body["iss"] != as.URL || res.body["jti"] != "jti-1" {
				t.Fatalf("token in context = %v", res.body)
			}
		})
	}
}

func TestLowercaseBearerSchemeAccepted(t *testing.T) {
	as := newTestAS(t)
	h := protect(newAuth(t, as, nil), echo)
	r := bearer("x")
	r.Header.Set("Authorization", "bearer "+as.mint("rsa-1", as.claims(resource, "notes:read"), nil))
	if res := call(t, h, r); res.status != 200 {
		t.Fatalf("lowercase scheme refused: %d %v", res.status, res.body)
	}
}

// hostileToken is one row of the token table: a token built to be refused.
type hostileToken struct {
	name    string
	token   func(as *testAS) string
	status  int
	reason  auth.Reason
	errCode string
}

func claimsWith(as *testAS, set map[string]any, drop ...string) map[string]any {
	c := as.claims(resource, "notes:read")
	for k, v := range set {
		c[k] = v
	}
	for _, k := range drop {
		delete(c, k)
	}
	return c
}

func hostileTokens() []hostileToken {
	rsaPubDER := func(as *testAS) []byte {
		b, _ := x509.MarshalPKIXPublicKey(as.PublicKey("rsa-1"))
		return b
	}
	hs256 := func(as *testAS, key []byte) string {
		h, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": "rsa-1", "typ": "JWT"})
		p, _ := json.Marshal(as.claims(resource, "notes:read"))
		in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	valid := func(as *testAS) string { return as.mint("rsa-1", as.claims(resource, "notes:read"), nil) }
	return []hostileToken{
		{"alg none", func(as *testAS) string {
			return unsigned(map[string]any{"alg": "none"}, as.claims(resource, "notes:read"), nil)
		}, 401, auth.ReasonAlgorithmNotAllowed, "invalid_token"},
		{"alg NoNe", func(as *testAS) string {
			return unsigned(map[string]any{"alg": "NoNe", "kid": "rsa-1"}, as.claims(resource, "notes:read"), []byte("sig"))
		}, 401, auth.ReasonAlgorithmNotAllowed, "invalid_token"},
		{"HS256 signed with the RSA public key (PEM DER)", func(as *testAS) string { return hs256(as, rsaPubDER(as)) }, 401, auth.ReasonAlgorithmNotAllowed, "invalid_token"},
		{"tampered payload", func(as *testAS) string {
			tok := valid(as)
			forged, _ := json.Marshal(claimsWith(as, map[string]any{"sub": "admin", "scope": "notes:read notes:admin"}))
			return segment(tok, 0) + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + segment(tok, 2)
		}, 401, auth.ReasonSignatureInvalid, "invalid_token"},
		{"tampered header kid swapped to another key", func(as *testAS) string {
			tok := valid(as)
			h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "rsa-other", "typ": "at+jwt"})
			as.newKey(authtest.KeyOptions{KeyID: "rsa-other"})
			return base64.RawURLEncoding.EncodeToString(h) + "." + segment(tok, 1) + "." + segment(tok, 2)
		}, 401, auth.ReasonSignatureInvalid, "invalid_token"},
		{"tampered signature", func(as *testAS) string {
			tok := valid(as)
			sig, _ := base64.RawURLEncoding.DecodeString(segment(tok, 2))
			sig[10] ^= 0xff
			return segment(tok, 0) + "." + segment(tok, 1) + "." + base64.RawURLEncoding.EncodeToString(sig)
		}, 401, auth.ReasonSignatureInvalid, "invalid_token"},
		{"truncated token", func(as *testAS) string { tok := valid(as); return tok[:len(tok)/2] }, 401, auth.ReasonTokenMalformed, "invalid_token"},
		{"signature stripped", func(as *testAS) string { tok := valid(as); return tok[:strings.LastIndexByte(tok, '.')+1] }, 401, auth.ReasonTokenMalformed, "invalid_token"},
		{"extra segment", func(as *testAS) string { return valid(as) + ".AAAA" }, 401, auth.ReasonTokenMalformed, "invalid_token"},
		{"JWE where JWS expected", func(as *testAS) string { return "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d" }, 401, auth.ReasonTokenMalformed, "invalid_token"},
		{"bad base64 header", func(as *testAS) string { tok := valid(as); return "!!!" + tok[3:] }, 401, auth.ReasonTokenMalformed, "invalid_token"},
		{"non-JSON payload", func(as *testAS) string {
			tok := valid(as)
			return segment(tok, 0) + "." + base64.RawURLEncoding.EncodeToString([]byte("not json")) + "." + segment(tok, 2)
		}, 401, auth.ReasonTokenMalformed, "invalid_token"},
		{"crit header", func(as *testAS) string {
			return as.mint("rsa-1", as.claims(resource, "notes:read"), map[string]any{"crit": []string{"exp"}, "exp": 1})
		}, 401, auth.ReasonTokenMalformed, "invalid_token"},
		{"nested JWT", func(as *testAS) string {
			return as.mint("rsa-1", as.claims(resource, "notes:read"), map[string]any{"cty": "JWT"})
		}, 401, auth.ReasonTokenMalformed, "invalid_token"},
		{"jku header pointing elsewhere is ignored, unknown kid refused", func(as *testAS) string {
			as.newKey(authtest.KeyOptions{KeyID: "attacker", Unpublished: true})
			return as.mint("attacker", as.claims(resource, "notes:read"), map[string]any{"jku": "https://attacker.example/jwks"})
		}, 401, auth.ReasonKeyUnknown, "invalid_token"},
		{"unknown kid", func(as *testAS) string {
			as.newKey(authtest.KeyOptions{KeyID: "unpublished", Unpublished: true})
			return as.mint("unpublished", as.claims(resource, "notes:read"), nil)
		}, 401, auth.ReasonKeyUnknown, "invalid_token"},
		{"RS256 token claiming the EC key", func(as *testAS) string {
			tok := valid(as)
			h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "ec-1"})
			return base64.RawURLEncoding.EncodeToString(h) + "." + segment(tok, 1) + "." + segment(tok, 2)
		}, 401, auth.ReasonKeyUnknown, "invalid_token"},
		{"expired", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), nil)
		}, 401, auth.ReasonExpired, "invalid_token"},
		{"exp missing", func(as *testAS) string { return as.mint("rsa-1", claimsWith(as, nil, "exp"), nil) }, 401, auth.ReasonExpired, "invalid_token"},
		{"exp not a number", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"exp": "tomorrow"}), nil)
		}, 401, auth.ReasonClaimInvalid, "invalid_token"},
		{"nbf in the future", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}), nil)
		}, 401, auth.ReasonNotYetValid, "invalid_token"},
		{"iat far in the future", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"iat": time.Now().Add(24 * time.Hour).Unix()}), nil)
		}, 401, auth.ReasonNotYetValid, "invalid_token"},
		{"iss missing", func(as *testAS) string { return as.mint("rsa-1", claimsWith(as, nil, "iss"), nil) }, 401, auth.ReasonIssuerUntrusted, "invalid_token"},
		{"iss another server", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"iss": "https://evil.example"}), nil)
		}, 401, auth.ReasonIssuerUntrusted, "invalid_token"},
		{"iss with a trailing slash", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"iss": as.URL + "/"}), nil)
		}, 401, auth.ReasonIssuerUntrusted, "invalid_token"},
		{"aud missing", func(as *testAS) string { return as.mint("rsa-1", claimsWith(as, nil, "aud"), nil) }, 401, auth.ReasonAudienceMismatch, "invalid_token"},
		{"token for another resource from the same server", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"aud": "https://other.example.com/mcp"}), nil)
		}, 401, auth.ReasonAudienceMismatch, "invalid_token"},
		{"aud array without us", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"aud": []string{"https://a.example", "account"}}), nil)
		}, 401, auth.ReasonAudienceMismatch, "invalid_token"},
		{"aud origin only", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"aud": "https://mcp.example.com"}), nil)
		}, 401, auth.ReasonAudienceMismatch, "invalid_token"},
		{"aud with trailing slash", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"aud": resource + "/"}), nil)
		}, 401, auth.ReasonAudienceMismatch, "invalid_token"},
		{"aud a number", func(as *testAS) string { return as.mint("rsa-1", claimsWith(as, map[string]any{"aud": 7}), nil) }, 401, auth.ReasonClaimInvalid, "invalid_token"},
		{"sub missing", func(as *testAS) string { return as.mint("rsa-1", claimsWith(as, nil, "sub"), nil) }, 401, auth.ReasonClaimInvalid, "invalid_token"},
		{"scope claim a number", func(as *testAS) string { return as.mint("rsa-1", claimsWith(as, map[string]any{"scope": 5}), nil) }, 401, auth.ReasonClaimInvalid, "invalid_token"},
		{"scope claim an object", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"scope": map[string]any{"a": 1}}), nil)
		}, 401, auth.ReasonClaimInvalid, "invalid_token"},
		{"scope with a quote to break the challenge", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"scope": `notes:read x"y`}), nil)
		}, 401, auth.ReasonClaimInvalid, "invalid_token"},
		{"valid token lacking the baseline scope", func(as *testAS) string {
			return as.mint("rsa-1", claimsWith(as, map[string]any{"scope": "calendar:read"}), nil)
		}, 403, auth.ReasonScopeInsufficient, "insufficient_scope"},
		{"characters outside b64token", func(as *testAS) string { return "abc\"def" }, 401, auth.ReasonTokenMalformed, "invalid_token"},
		{"not a JWT and no introspection", func(as *testAS) string { return "opaque-token-value" }, 401, auth.ReasonTokenMalformed, "invalid_token"},
		{"huge token", func(as *testAS) string { return strings.Repeat("a", 17<<10) }, 400, auth.ReasonTokenTooLarge, "invalid_request"},
	}
}

func TestHostileTokensRefused(t *testing.T) {
	as := newTestAS(t)
	a := newAuth(t, as, func(c *auth.Config) { c.Tokens.KeyRefreshMinGap = time.Millisecond })
	h := protect(a, mcpServer())
	for _, tt := range hostileTokens() {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token(as)
			res := call(t, h, bearer(tok))
			if res.status != tt.status || res.body["reason"] != string(tt.reason) {
				t.Fatalf("status %d reason %v, want %d %s (body %v)", res.status, res.body["reason"], tt.status, tt.reason, res.body)
			}
			if res.challenge == nil || res.challenge["error"] != tt.errCode {
				t.Fatalf("challenge %q, want error=%q", res.rawChal, tt.errCode)
			}
			if res.challenge["resource_metadata"] != "https://mcp.example.com/.well-known/oauth-protected-resource/mcp" {
				t.Fatalf("resource_metadata = %q", res.challenge["resource_metadata"])
			}
			if len(tok) > 20 && (strings.Contains(res.rawChal, tok[len(tok)-20:]) || strings.Contains(res.body["error_description"].(string), tok[len(tok)-20:])) {
				t.Fatalf("response echoes the token")
			}
			_, err := verify(a, tok)
			if tt.status != 403 && !errors.Is(err, &auth.Error{Reason: tt.reason}) {
				t.Fatalf("Verify error %v is not %s", err, tt.reason)
			}
		})
	}
}

func TestRequestShapes(t *testing.T) {
	as := newTestAS(t)
	a := newAuth(t, as, nil)
	h := protect(a, mcpServer())
	tok := as.mint("rsa-1", as.claims(resource, "notes:read"), nil)
	tests := []struct {
		name    string
		req     func() *http.Request
		status  int
		reason  auth.Reason
		errCode string
	}{
		{"no Authorization header", func() *http.Request {
			return httptest.NewRequest("POST", "http://mcp.example.com/mcp", nil)
		}, 401, auth.ReasonTokenMissing, ""},
		{"Basic scheme", func() *http.Request {
			r := httptest.NewRequest("POST", "http://mcp.example.com/mcp", nil)
			r.SetBasicAuth("user", "pw")
			return r
		}, 401, auth.ReasonTokenMissing, ""},
		{"empty Bearer", func() *http.Request {
			r := httptest.NewRequest("POST", "http://mcp.example.com/mcp", nil)
			r.Header.Set("Authorization", "Bearer ")
			return r
		}, 400, auth.ReasonRequestInvalid, "invalid_request"},
		{"two Authorization headers", func() *http.Request {
			r := bearer(tok)
			r.Header.Add("Authorization", "Bearer "+tok)
			return r
		}, 400, auth.ReasonRequestInvalid, "invalid_request"},
		{"token in query", func() *http.Request {
			return httptest.NewRequest("GET", "http://mcp.example.com/mcp?access_token="+tok, nil)
		}, 400, auth.ReasonRequestInvalid, "invalid_request"},
		{"token in query beside a valid header", func() *http.Request {
			r := bearer(tok)
			r.URL.RawQuery = "access_token=" + tok
			return r
		}, 400, auth.ReasonRequestInvalid, "invalid_request"},
		{"token in form body", func() *http.Request {
			r := httptest.NewRequest("POST", "http://mcp.example.com/mcp", strings.NewReader("access_token="+tok))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 400, auth.ReasonRequestInvalid, "invalid_request"},
		{"token in form body with charset and odd case", func() *http.Request {
			r := bearer(tok)
			r.Body = io.NopCloser(strings.NewReader("x=1&access_token=" + tok))
			r.Header.Set("Content-Type", "Application/X-WWW-Form-Urlencoded; charset=utf-8")
			return r
		}, 400, auth.ReasonRequestInvalid, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, h, tt.req())
			if res.status != tt.status || res.body["reason"] != string(tt.reason) {
				t.Fatalf("status %d reason %v, want %d %s", res.status, res.body["reason"], tt.status, tt.reason)
			}
			if res.challenge == nil {
				t.Fatalf("no WWW-Authenticate on %d", res.status)
			}
			if _, has := res.challenge["error"]; has != (tt.errCode != "") || res.challenge["error"] != tt.errCode {
				t.Fatalf("challenge %q, want error=%q", res.rawChal, tt.errCode)
			}
			if res.challenge["scope"] != "notes:read" {
				t.Fatalf("challenge scope %q, want the baseline", res.challenge["scope"])
			}
		})
	}
}

func TestFormBodyWithoutTokenIsRestored(t *testing.T) {
	as := newTestAS(t)
	a := newAuth(t, as, nil)
	var got string
	h := protect(a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	}))
	body := "a=1&b=" + strings.Repeat("x", 100<<10)
	r := bearer(as.mint("rsa-1", as.claims(resource, "notes:read"), nil))
	r.Body = io.NopCloser(strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res := call(t, h, r); res.status != 200 || got != body {
		t.Fatalf("status %d, body restored %v", res.status, got == body)
	}
}

func TestAudienceOptions(t *testing.T) {
	as := newTestAS(t)
	slashTok := as.mint("rsa-1", claimsWith(as, map[string]any{"aud": resource + "/"}), nil)
	strict := newAuth(t, as, nil)
	_, err := verify(strict, slashTok)
	var ae *auth.ClaimError
	if !errors.As(err, &ae) || ae.Hint != "trailing_slash" || !strings.Contains(err.Error(), "trailing slash") {
		t.Fatalf("err = %v, want a ClaimError naming the trailing slash", err)
	}
	tolerant := newAuth(t, as, func(c *auth.Config) { c.Tokens.AllowAudienceTrailingSlash = true })
	if _, err := verify(tolerant, slashTok); err != nil {
		t.Fatalf("trailing-slash tolerance: %v", err)
	}
	originTok := as.mint("rsa-1", claimsWith(as, map[string]any{"aud": "https://mcp.example.com"}), nil)
	_, err = verify(strict, originTok)
	if !errors.As(err, &ae) || ae.Hint != "origin_only" || ae.Actual[0] != "https://mcp.example.com" || ae.Expected[0] != resource {
		t.Fatalf("err = %v, want an origin_only ClaimError with both values", err)
	}
	extra := newAuth(t, as, func(c *auth.Config) { c.Tokens.Audiences = []string{"https://mcp.example.com"} })
	if _, err := verify(extra, originTok); err != nil {
		t.Fatalf("configured audience refused: %v", err)
	}
}

func TestTypEnforcement(t *testing.T) {
	as := newTestAS(t)
	a := newAuth(t, as, func(c *auth.Config) { c.Tokens.RequireJWTAccessTokenType = true })
	for typ, ok := range map[string]bool{"at+jwt": true, "application/at+jwt": true, "AT+JWT": true, "JWT": false} {
		_, err := verify(a, as.mint("rsa-1", as.claims(resource, "notes:read"), map[string]any{"typ": typ}))
		if ok != (err == nil) || (!ok && !errors.Is(err, auth.ReasonTypInvalid)) {
			t.Errorf("typ %q: err = %v", typ, err)
		}
	}
	noTyp := as.mint("rsa-1", as.claims(resource, "notes:read"), map[string]any{"typ": nil})
	if _, err := verify(a, noTyp); !errors.Is(err, auth.ReasonTypInvalid) {
		t.Errorf("missing typ: err = %v", err)
	}
	lax := newAuth(t, as, nil)
	if _, err := verify(lax, as.mint("rsa-1", as.claims(resource, "notes:read"), map[string]any{"typ": "JWT"})); err != nil {
		t.Errorf("typ JWT refused without enforcement: %v", err)
	}
	// Type: JWTs of another profile (the proxy's ID-JAGs).
	jag := newVerifier(t, as, func(c *auth.VerifierConfig) { c.Type = "oauth-id-jag+jwt" })
	for typ, ok := range map[string]bool{"oauth-id-jag+jwt": true, "application/oauth-id-jag+jwt": true, "at+jwt": false, "JWT": false} {
		_, err := jag.Verify(context.Background(), as.mint("rsa-1", as.claims(resource, "notes:read"), map[string]any{"typ": typ}))
		if ok != (err == nil) || (!ok && !errors.Is(err, auth.ReasonTypInvalid)) {
			t.Errorf("Type oauth-id-jag+jwt, typ %q: err = %v", typ, err)
		}
	}
	if _, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}, Audiences: []string{resource},
		RequireJWTAccessTokenType: true, Type: "oauth-id-jag+jwt"}); err == nil {
		t.Error("RequireJWTAccessTokenType with another Type accepted")
	}
}

func TestKeyRotation(t *testing.T) {
	as := newTestAS(t)
	clock := newClock()
	a := newAuth(t, as, func(c *auth.Config) { c.Now = clock.Now })
	if _, err := verify(a, as.mint("rsa-1", as.claims(resource, "notes:read"), nil)); err != nil {
		t.Fatal(err)
	}
	before := as.JWKSFetches()
	clock.Advance(11 * time.Second) // past the refresh rate window of the first fetch
	as.newKey(authtest.KeyOptions{KeyID: "rsa-2"})
	tok := as.mint("rsa-2", as.claims(resource, "notes:read"), nil)
	if _, err := verify(a, tok); err != nil {
		t.Fatalf("token under the rotated-in key: %v", err)
	}
	if got := as.JWKSFetches() - before; got != 1 {
		t.Fatalf("rotation took %d key set fetches, want 1", got)
	}
}

func TestUnknownKidStormFetchesOnce(t *testing.T) {
	as := newTestAS(t)
	clock := newClock()
	a := newAuth(t, as, func(c *auth.Config) { c.Now = clock.Now })
	if _, err := verify(a, as.mint("rsa-1", as.claims(resource, "notes:read"), nil)); err != nil {
		t.Fatal(err)
	}
	// Open the rate window again, so the storm itself must share one refresh.
	clock.Advance(11 * time.Second)
	before := as.JWKSFetches()
	var forged []string
	for i := range 50 {
		kid := "forged-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		as.newKey(authtest.KeyOptions{KeyID: kid, Algorithm: "ES256", Unpublished: true}) // cheap to make; the kid is what matters
		forged = append(forged, as.mint(kid, as.claims(resource, "notes:read"), nil))
	}
	valid := as.mint("rsa-1", claimsWith(as, map[string]any{"jti": "other"}), nil)
	var wg sync.WaitGroup
	var refusedValid, acceptedForged atomic.Int64
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := forged[i%len(forged)]
			_, err := verify(a, tok)
			if err == nil {
				acceptedForged.Add(1)
			} else if !errors.Is(err, auth.ReasonKeyUnknown) {
				t.Errorf("forged kid: %v", err)
			}
			if i%10 == 0 {
				if _, err := verify(a, valid); err != nil {
					refusedValid.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if fetches := as.JWKSFetches() - before; fetches != 1 {
		t.Fatalf("1000 requests with unknown kids caused %d key set fetches, want exactly 1", fetches)
	}
	if acceptedForged.Load() != 0 || refusedValid.Load() != 0 {
		t.Fatalf("accepted %d forged, refused %d valid", acceptedForged.Load(), refusedValid.Load())
	}
}

func TestKeySetDown(t *testing.T) {
	for mode, failure := range map[string]authtest.JWKSFailure{"500": authtest.JWKSError, "garbage": authtest.JWKSGarbage, "hang": authtest.JWKSStall} {
		t.Run("cached keys keep serving when the JWKS answers "+mode, func(t *testing.T) {
			as := newTestAS(t)
			clock := newClock()
			a := newAuth(t, as, func(c *auth.Config) {
				c.Now = clock.Now
				c.Tokens.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond}
			})
			h := protect(a, echo)
			if res := call(t, h, bearer(as.mint("rsa-1", as.claims(resource, "notes:read"), nil))); res.status != 200 {
				t.Fatalf("warm-up: %d", res.status)
			}
			as.SetJWKSFailure(failure)
			clock.Advance(time.Minute)
			fresh := as.mint("ec-1", claimsWith(as, map[string]any{"jti": "fresh"}), nil)
			if res := call(t, h, bearer(fresh)); res.status != 200 {
				t.Fatalf("token under a cached key refused while the key set is down: %d %v", res.status, res.body)
			}
			as.newKey(authtest.KeyOptions{KeyID: "rsa-new", Unpublished: true})
			res := call(t, h, bearer(as.mint("rsa-new", as.claims(resource, "notes:read"), nil)))
			if res.status != 503 || res.body["reason"] != "keyset_unavailable" || res.header.Get("Retry-After") == "" {
				t.Fatalf("unknown kid with the key set down: %d %v %v", res.status, res.body, res.header)
			}
			if res.challenge != nil {
				t.Fatalf("503 must not send the client into re-authorization with a challenge: %q", res.rawChal)
			}
			as.SetJWKSFailure(authtest.JWKSOK)
			clock.Advance(time.Minute)
			as.publish("rsa-new")
			if res := call(t, h, bearer(as.mint("rsa-new", claimsWith(as, map[string]any{"jti": "after"}), nil))); res.status != 200 {
				t.Fatalf("after recovery: %d %v", res.status, res.body)
			}
		})
	}
	t.Run("key set unreachable from the start", func(t *testing.T) {
		as := newTestAS(t)
		as.SetJWKSFailure(authtest.JWKSError)
		a := newAuth(t, as, nil)
		_, err := verify(a, as.mint("rsa-1", as.claims(resource, "notes:read"), nil))
		if !errors.Is(err, auth.ReasonKeysetUnavailable) || !strings.Contains(err.Error(), "500") {
			t.Fatalf("err = %v, want keyset_unavailable naming the 500", err)
		}
	})
}

func TestTokenCache(t *testing.T) {
	as := newTestAS(t)
	clock := newClock()
	as.now = clock.Now
	a := newAuth(t, as, func(c *auth.Config) { c.Now = clock.Now; c.Tokens.Leeway = -1 })
	c := as.claims(resource, "notes:read")
	c["exp"] = clock.Now().Add(2 * time.Minute).Unix()
	tok := as.mint("rsa-1", c, nil)
	t1, err := verify(a, tok)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := verify(a, tok)
	if err != nil || t2 != t1 {
		t.Fatalf("repeated token not served from the cache: %v", err)
	}
	clock.Advance(3 * time.Minute)
	if _, err := verify(a, tok); !errors.Is(err, auth.ReasonExpired) {
		t.Fatalf("cached token outlived its exp: %v", err)
	}
}

func TestLeeway(t *testing.T) {
	as := newTestAS(t)
	clock := newClock()
	a := newAuth(t, as, func(c *auth.Config) { c.Now = clock.Now })
	c := as.claims(resource, "notes:read")
	c["exp"] = clock.Now().Add(-10 * time.Second).Unix()
	if _, err := verify(a, as.mint("rsa-1", c, nil)); err != nil {
		t.Fatalf("token 10s past exp refused within the default 30s leeway: %v", err)
	}
}

func TestMetadataServedAtBothWellKnownPaths(t *testing.T) {
	as := newTestAS(t)
	a := newAuth(t, as, func(c *auth.Config) {
		c.Resource = "https://MCP.example.com/mcp/"
		c.ResourceName = "Notes"
	})
	h := protect(a, echo)
	var bodies []string
	for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://mcp.example.com"+p, nil))
		if rec.Code != 200 {
			t.Fatalf("%s: %d (metadata must be reachable without a token)", p, rec.Code)
		}
		bodies = append(bodies, rec.Body.String())
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("root and path-inserted metadata differ:\n%s\n%s", bodies[0], bodies[1])
	}
	var doc map[string]any
	json.Unmarshal([]byte(bodies[0]), &doc)
	if doc["resource"] != resource {
		t.Fatalf("resource = %v, want the canonical %q", doc["resource"], resource)
	}
	if servers := doc["authorization_servers"].([]any); len(servers) != 1 || servers[0] != as.URL {
		t.Fatalf("authorization_servers = %v, want exactly the issuer %q", servers, as.URL)
	}
	if doc["scopes_supported"].([]any)[0] != "notes:read" || doc["bearer_methods_supported"].([]any)[0] != "header" {
		t.Fatalf("metadata = %v", doc)
	}
	if a.ResourceMetadataURL() != "https://mcp.example.com/.well-known/oauth-protected-resource/mcp" {
		t.Fatalf("ResourceMetadataURL = %q", a.ResourceMetadataURL())
	}
}

func TestCORS(t *testing.T) {
	as := newTestAS(t)
	reached := false
	h := protect(newAuth(t, as, nil), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	pre := httptest.NewRequest("OPTIONS", "http://mcp.example.com/mcp", nil)
	pre.Header.Set("Origin", "https://inspector.example")
	pre.Header.Set("Access-Control-Request-Headers", "authorization")
	if res := call(t, h, pre); res.status == 401 || !reached {
		t.Fatalf("preflight challenged: %d", res.status)
	}
	r := httptest.NewRequest("POST", "http://mcp.example.com/mcp", nil)
	r.Header.Set("Origin", "https://inspector.example")
	res := call(t, h, r)
	if res.status != 401 || !strings.Contains(res.header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") || res.header.Get("Access-Control-Allow-Origin") == "" {
		t.Fatalf("401 hides WWW-Authenticate from browsers: %v", res.header)
	}
}

func TestChallengeScopesStrategy(t *testing.T) {
	as := newTestAS(t)
	tok := as.mint("rsa-1", claimsWith(as, map[string]any{"scope": "calendar:read"}), nil)
	for _, tt := range []struct {
		strategy auth.ChallengeScopes
		version  string // MCP-Protocol-Version
		want     string
	}{
		{auth.GrantedPlusNeeded, "", "calendar:read notes:read"},
		{auth.GrantedPlusNeeded, "2026-07-28", "calendar:read notes:read"},
		{auth.MinimalScopes, "", "notes:read"},
		{auth.MinimalScopes, "2025-11-25", "notes:read"},
		// The default follows the revision: SEP-2350 clients accumulate.
		{auth.ScopesByRevision, "", "calendar:read notes:read"},
		{auth.ScopesByRevision, "2025-11-25", "calendar:read notes:read"},
		{auth.ScopesByRevision, "2026-07-28", "notes:read"},
		{auth.ScopesByRevision, "2027-01-01", "notes:read"},
		{auth.ScopesByRevision, "2026-07-28x", "calendar:read notes:read"},
		{auth.ScopesByRevision, "9999999999", "calendar:read notes:read"},
	} {
		a := newAuth(t, as, func(c *auth.Config) { c.ChallengeScopes = tt.strategy })
		r := bearer(tok)
		if tt.version != "" {
			r.Header.Set("MCP-Protocol-Version", tt.version)
		}
		res := call(t, protect(a, echo), r)
		if res.status != 403 || res.challenge["scope"] != tt.want || res.challenge["error"] != "insufficient_scope" {
			t.Errorf("strategy %d, revision %q: %d %q, want scope %q", tt.strategy, tt.version, res.status, res.rawChal, tt.want)
		}
	}
}

func TestCheckScopesExplainsNearMiss(t *testing.T) {
	as := newTestAS(t)
	a := newAuth(t, as, func(c *auth.Config) { c.BaselineScopes = nil })
	tok, err := verify(a, as.mint("rsa-1", claimsWith(as, map[string]any{"scope": "orgs:write"}), nil))
	if err != nil {
		t.Fatal(err)
	}
	err = a.CheckScopes(tok, scopes.All("org:write"))
	var se *auth.ScopeError
	if !errors.Is(err, auth.ReasonScopeInsufficient) || !errors.As(err, &se) || len(se.Hints) == 0 || se.Hints[0].Code != scopes.HintPlural {
		t.Fatalf("err = %v, want a ScopeError with a plural hint", err)
	}
	// The challenge asks for the required scope beside the near miss held.
	strict := newAuth(t, as, func(c *auth.Config) { c.BaselineScopes = []string{"org:write"} })
	res := call(t, protect(strict, echo), bearer(as.mint("rsa-1", claimsWith(as, map[string]any{"scope": "orgs:write"}), nil)))
	if res.status != 403 || res.challenge["scope"] != "org:write orgs:write" || strings.ContainsAny(res.rawChal[len("Bearer "):], "\\") {
		t.Fatalf("challenge = %d %q", res.status, res.rawChal)
	}
}

func TestRejectionLogRecord(t *testing.T) {
	as := newTestAS(t)
	var buf bytes.Buffer
	a := newAuth(t, as, func(c *auth.Config) { c.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	tok := as.mint("rsa-1", claimsWith(as, map[string]any{"aud": resource + "/"}), nil)
	call(t, protect(a, echo), bearer(tok))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one record per rejection, got %d: %s", len(lines), buf.String())
	}
	var rec map[string]any
	json.Unmarshal([]byte(lines[0]), &rec)
	if rec["reason"] != "audience_mismatch" || rec["token"] != auth.NewToken(tok, nil).Fingerprint() || rec["iss"] != as.URL || rec["method"] != "POST" || rec["path"] != "/mcp" {
		t.Fatalf("record = %v", rec)
	}
	if !strings.Contains(rec["error"].(string), "trailing slash") {
		t.Fatalf("audience mismatch record does not name the trailing slash: %v", rec["error"])
	}
	for _, part := range strings.Split(tok, ".") {
		if strings.Contains(buf.String(), part) {
			t.Fatalf("the log record contains part of the token")
		}
	}
}

func TestNewFailsClosed(t *testing.T) {
	as := newTestAS(t)
	issuer := auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}
	with := func(mutate func(*auth.VerifierConfig)) auth.VerifierConfig {
		vc := auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}
		mutate(&vc)
		return vc
	}
	custom := auth.TokenVerifierFunc(func(context.Context, string) (*auth.Token, error) { return nil, errors.New("unused") })
	static, err := auth.NewStaticKeySet(as.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]auth.Config{
		"no resource":                               {Tokens: issuer},
		"relative resource":                         {Resource: "/mcp", Tokens: issuer},
		"resource with fragment":                    {Resource: resource + "#x", Tokens: issuer},
		"http internal host leaking behind a proxy": {Resource: "http://mcp.internal/mcp", Tokens: issuer},
		"no issuer":                                 {Resource: resource},
		"plain http issuer off loopback":            {Resource: resource, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: "http://auth.example.com", JWKSURL: "https://auth.example.com/jwks"}}}},
		"plain http key set off loopback":           {Resource: resource, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: "https://auth.example.com", JWKSURL: "http://auth.example.com/jwks"}}}},
		"HS256 in the allowlist":                    {Resource: resource, Tokens: with(func(c *auth.VerifierConfig) { c.Algorithms = []string{"RS256", "HS256"} })},
		"none in the allowlist":                     {Resource: resource, Tokens: with(func(c *auth.VerifierConfig) { c.Algorithms = []string{"none"} })},
		"unknown algorithm":                         {Resource: resource, Tokens: with(func(c *auth.VerifierConfig) { c.Algorithms = []string{"RS999"} })},
		"issuer without metadata":                   {Resource: resource, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL + "/nothing-here"}}}},
		"baseline scope with a quote":               {Resource: resource, Tokens: issuer, BaselineScopes: []string{`a"b`}},
		"duplicate issuer":                          {Resource: resource, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}, {URL: as.URL}}}},
		// Config.Verifier would silently disable every field of Tokens.
		"a verifier and token settings":         {Resource: resource, Verifier: custom, Tokens: with(func(c *auth.VerifierConfig) { c.Leeway = time.Minute }), AuthorizationServers: []string{as.URL}},
		"a verifier and nothing to advertise":   {Resource: resource, Verifier: custom},
		"an issuer with keys and a key set URL": {Resource: resource, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL, Keys: static, JWKSURL: as.URL + "/jwks"}}}},
		"an empty audience":                     {Resource: resource, Tokens: with(func(c *auth.VerifierConfig) { c.Audiences = []string{resource, ""} })},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := auth.New(context.Background(), cfg)
			if err == nil {
				a.Close()
				t.Fatalf("New accepted %+v", cfg)
			}
		})
	}
	_, err = auth.New(context.Background(), auth.Config{Resource: resource, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL + "/nothing-here"}}}})
	if !strings.Contains(err.Error(), "/.well-known/openid-configuration/nothing-here") {
		t.Fatalf("discovery error does not name the URLs tried: %v", err)
	}
}

// verify checks tok as a's verifier does, through Check (which also
// requires the baseline scopes).
func verify(a *auth.Authenticator, tok string) (*auth.Token, error) {
	r := httptest.NewRequest(http.MethodPost, resource, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return a.Check(r)
}

// newVerifier builds a Verifier trusting as for resource, as New would
// from its Config, changed by mutate.
func newVerifier(t testing.TB, as *testAS, mutate func(*auth.VerifierConfig)) *auth.Verifier {
	t.Helper()
	vc := auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}, Audiences: []string{resource}}
	if mutate != nil {
		mutate(&vc)
	}
	v, err := auth.NewVerifier(context.Background(), vc)
	if err != nil {
		t.Fatalf("auth.NewVerifier: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}
