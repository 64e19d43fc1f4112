package registration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/internal/source"
	"github.com/mcpauth/mcpauth/store"
)

func TestRedirectValidate(t *testing.T) {
	tests := []struct {
		name   string
		uri    string
		policy RedirectPolicy
		ok     bool
	}{
		{"https", "https://app.example.com/callback", RedirectPolicy{}, true},
		{"loopback v4 any port", "http://127.0.0.1:33418/callback", RedirectPolicy{}, true},
		{"loopback v6", "http://[::1]/callback", RedirectPolicy{}, true},
		{"localhost refused by default", "http://localhost:3000/callback", RedirectPolicy{}, false},
		{"localhost allowed by option", "http://localhost:3000/callback", RedirectPolicy{AllowLocalhost: true}, true},
		{"http on a public host", "http://app.example.com/callback", RedirectPolicy{}, false},
		{"javascript scheme", "javascript:alert(document.cookie)", RedirectPolicy{AllowCustomSchemes: true}, false},
		{"data scheme", "data:text/html,<script>x</script>", RedirectPolicy{AllowCustomSchemes: true}, false},
		{"fragment", "https://app.example.com/callback#frag", RedirectPolicy{}, false},
		{"userinfo", "https://user@app.example.com/callback", RedirectPolicy{}, false},
		{"wildcard", "https://*.example.com/callback", RedirectPolicy{}, false},
		{"relative", "/callback", RedirectPolicy{}, false},
		{"custom scheme refused by default", "com.example.app:/callback", RedirectPolicy{}, false},
		{"custom scheme allowed by option", "com.example.app:/callback", RedirectPolicy{AllowCustomSchemes: true}, true},
		{"custom scheme without a dot", "myapp:/callback", RedirectPolicy{AllowCustomSchemes: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate(tt.uri)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidRedirectURI)) {
				t.Fatalf("Validate(%q) = %v, want ok=%v", tt.uri, err, tt.ok)
			}
		})
	}
}

func TestRedirectMatch(t *testing.T) {
	tests := []struct {
		name       string
		registered []string
		requested  string
		part       string // "" means a match
	}{
		{"exact", []string{"https://app.example.com/cb"}, "https://app.example.com/cb", ""},
		{"loopback any port", []string{"http://127.0.0.1/callback"}, "http://127.0.0.1:51234/callback", ""},
		{"loopback registered with a port, another port", []string{"http://127.0.0.1:3000/callback"}, "http://127.0.0.1:4000/callback", ""},
		{"localhost any port when allowed", []string{"http://localhost/callback"}, "http://localhost:9999/callback", ""},
		{"trailing slash", []string{"https://app.example.com/cb"}, "https://app.example.com/cb/", "trailing_slash"},
		{"port on a non-loopback host", []string{"https://app.example.com/cb"}, "https://app.example.com:8443/cb", "port"},
		{"scheme", []string{"https://app.example.com/cb"}, "http://app.example.com/cb", "scheme"},
		{"host case", []string{"https://app.example.com/cb"}, "https://App.Example.com/cb", "host_case"},
		{"host", []string{"https://app.example.com/cb"}, "https://evil.example.com/cb", "host"},
		{"path", []string{"https://app.example.com/cb"}, "https://app.example.com/other", "path"},
		{"query", []string{"https://app.example.com/cb?a=1"}, "https://app.example.com/cb?a=2", "query"},
		{"loopback path differs", []string{"http://127.0.0.1/callback"}, "http://127.0.0.1:5000/callbackx", "path"},
		{"loopback v4 registered, v6 requested", []string{"http://127.0.0.1/callback"}, "http://[::1]:5000/callback", "host"},
		{"closest of several is named", []string{"https://a.example/x", "https://app.example.com/cb"}, "https://app.example.com/cb/", "trailing_slash"},
		{"none registered", nil, "https://app.example.com/cb", "none_registered"},
		{"fragment in the request", []string{"https://app.example.com/cb"}, "https://app.example.com/cb#x", "invalid"},
	}
	p := RedirectPolicy{AllowLocalhost: true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Match(tt.registered, tt.requested)
			if tt.part == "" {
				if err != nil {
					t.Fatalf("Match: %v", err)
				}
				return
			}
			var me *RedirectMismatchError
			if !errors.As(err, &me) || me.Part != tt.part {
				t.Fatalf("Match = %v, want a mismatch in %s", err, tt.part)
			}
			if tt.part == "trailing_slash" && !strings.Contains(err.Error(), "trailing slash") {
				t.Fatalf("message does not say what differs: %v", err)
			}
		})
	}
}

func TestStaticClientSecret(t *testing.T) {
	c := Static("quickstart-client", "quickstart-secret", Metadata{RedirectURIs: []string{"http://127.0.0.1/callback"}}, RedirectPolicy{})
	if !c.AuthenticateSecret("quickstart-secret") || c.AuthenticateSecret("quickstart-secreT") || c.AuthenticateSecret("") || c.Public() {
		t.Fatal("secret check wrong")
	}
	if c.Metadata.TokenEndpointAuthMethod != "client_secret_basic" || c.Metadata.ClientSecret != "" {
		t.Fatalf("metadata = %+v", c.Metadata)
	}
	pub := Static("pub", "", Metadata{}, RedirectPolicy{})
	if !pub.Public() || pub.AuthenticateSecret("") || pub.Metadata.TokenEndpointAuthMethod != "none" {
		t.Fatal("public static client wrong")
	}
}

func register(t *testing.T, h http.Handler, contentType string, body string, header map[string]string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	r := httptest.NewRequest("POST", "https://as.example/register", strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec, out
}

func TestDCR(t *testing.T) {
	store := NewMemoryStore(0)
	h := &DCRHandler{Store: store}
	rec, out := register(t, h, "application/json", `{"redirect_uris":["http://127.0.0.1:8000/callback"],"token_endpoint_auth_method":"none","client_name":"VS Code"}`, nil)
	if rec.Code != 201 || out["client_id"] == "" || out["client_secret"] != nil {
		t.Fatalf("public registration: %d %v", rec.Code, out)
	}
	c, err := store.Get(context.Background(), out["client_id"].(string))
	if err != nil || c.Kind != KindDynamic || !c.Public() || c.MatchRedirect("http://127.0.0.1:9999/callback") != nil {
		t.Fatalf("stored client: %+v %v", c, err)
	}
	rec, out = register(t, h, "application/json; charset=utf-8", `{"redirect_uris":["https://app.example.com/cb"],"grant_types":["authorization_code","refresh_token"]}`, nil)
	if rec.Code != 201 || out["client_secret"] == nil || out["client_secret_expires_at"] != 0.0 {
		t.Fatalf("confidential registration: %d %v", rec.Code, out)
	}
	c, _ = store.Get(context.Background(), out["client_id"].(string))
	if !c.AuthenticateSecret(out["client_secret"].(string)) {
		t.Fatal("issued secret does not authenticate")
	}
}

func TestDCRAbuse(t *testing.T) {
	many := make([]string, 1000)
	for i := range many {
		many[i] = fmt.Sprintf(`"https://app.example.com/cb%d"`, i)
	}
	tests := []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"http redirect on a public host", "application/json", `{"redirect_uris":["http://app.example.com/cb"]}`, 400, "invalid_redirect_uri"},
		{"javascript: redirect", "application/json", `{"redirect_uris":["javascript:alert(1)"]}`, 400, "invalid_redirect_uri"},
		{"redirect with a fragment", "application/json", `{"redirect_uris":["https://app.example.com/cb#x"]}`, 400, "invalid_redirect_uri"},
		{"1,000 redirect URIs", "application/json", `{"redirect_uris":[` + strings.Join(many, ",") + `]}`, 400, "invalid_redirect_uri"},
		{"no redirect URIs", "application/json", `{"client_name":"x"}`, 400, "invalid_redirect_uri"},
		{"oversized body", "application/json", `{"client_name":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "invalid_client_metadata"},
		{"wrong content type", "application/x-www-form-urlencoded", `redirect_uris=https://app.example.com/cb`, 400, "invalid_client_metadata"},
		{"not JSON", "application/json", `<xml/>`, 400, "invalid_client_metadata"},
		{"client chooses its own secret", "application/json", `{"redirect_uris":["https://app.example.com/cb"],"client_secret":"mine"}`, 400, "invalid_client_metadata"},
		{"implicit grant", "application/json", `{"redirect_uris":["https://app.example.com/cb"],"grant_types":["implicit"]}`, 400, "invalid_client_metadata"},
		{"token response type", "application/json", `{"redirect_uris":["https://app.example.com/cb"],"response_types":["token"]}`, 400, "invalid_client_metadata"},
		{"unknown auth method", "application/json", `{"redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"tls_client_auth"}`, 400, "invalid_client_metadata"},
	}
	h := &DCRHandler{Store: NewMemoryStore(0)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, out := register(t, h, tt.contentType, tt.body, nil)
			if rec.Code != tt.status || out["error"] != tt.code || out["error_description"] == "" {
				t.Fatalf("%d %v, want %d %s", rec.Code, out, tt.status, tt.code)
			}
		})
	}
	t.Run("scope outside the policy", func(t *testing.T) {
		h := &DCRHandler{Store: NewMemoryStore(0), Policy: Policy{Scopes: []string{"notes:read"}}}
		rec, out := register(t, h, "application/json", `{"redirect_uris":["https://a.example/cb"],"scope":"notes:read admin"}`, nil)
		if rec.Code != 400 || !strings.Contains(out["error_description"].(string), "admin") {
			t.Fatalf("%d %v", rec.Code, out)
		}
	})
	t.Run("initial access token required", func(t *testing.T) {
		h := &DCRHandler{Store: NewMemoryStore(0), Policy: Policy{InitialAccessToken: "iat-secret"}}
		body := `{"redirect_uris":["https://a.example/cb"]}`
		if rec, _ := register(t, h, "application/json", body, nil); rec.Code != 401 {
			t.Fatalf("without token: %d", rec.Code)
		}
		if rec, _ := register(t, h, "application/json", body, map[string]string{"Authorization": "Bearer wrong"}); rec.Code != 401 {
			t.Fatalf("wrong token: %d", rec.Code)
		}
		if rec, _ := register(t, h, "application/json", body, map[string]string{"Authorization": "Bearer iat-secret"}); rec.Code != 201 {
			t.Fatalf("right token: %d", rec.Code)
		}
	})
	t.Run("registration flood is rate limited", func(t *testing.T) {
		h := &DCRHandler{Store: NewMemoryStore(0), Policy: Policy{RateLimit: 5}}
		codes := map[int]int{}
		for range 20 {
			rec, _ := register(t, h, "application/json", `{"redirect_uris":["https://a.example/cb"]}`, nil)
			codes[rec.Code]++
		}
		if codes[201] != 5 || codes[429] != 15 {
			t.Fatalf("codes = %v", codes)
		}
	})
	t.Run("junk registrations do not lock out valid ones (registration lock-out)", func(t *testing.T) {
		h := &DCRHandler{Store: NewMemoryStore(0), Policy: Policy{RateLimit: 5}}
		for range 200 {
			if rec, _ := register(t, h, "application/json", `{"redirect_uris":["javascript:x"]}`, nil); rec.Code != 400 {
				t.Fatalf("junk: %d", rec.Code)
			}
		}
		if rec, _ := register(t, h, "application/json", `{"redirect_uris":["https://a.example/cb"]}`, nil); rec.Code != 201 {
			t.Fatalf("a valid registration after 200 junk ones from the same address: %d", rec.Code)
		}
	})
	t.Run("one client's flood does not lock out another (per-client limit)", func(t *testing.T) {
		h := &DCRHandler{Store: NewMemoryStore(0), Policy: Policy{RateLimit: 5,
			RateKey: func(r *http.Request) string { return r.Header.Get("X-Client") }}}
		for range 20 {
			register(t, h, "application/json", `{"redirect_uris":["https://a.example/cb"]}`, map[string]string{"X-Client": "flood"})
		}
		if rec, _ := register(t, h, "application/json", `{"redirect_uris":["https://a.example/cb"]}`, map[string]string{"X-Client": "flood"}); rec.Code != 429 {
			t.Fatalf("the flooding client: %d", rec.Code)
		}
		if rec, _ := register(t, h, "application/json", `{"redirect_uris":["https://a.example/cb"]}`, map[string]string{"X-Client": "victim"}); rec.Code != 201 {
			t.Fatalf("another client: %d", rec.Code)
		}
	})
	t.Run("IPv6 clients are keyed by their /64", func(t *testing.T) {
		if source.RemotePrefix("[2001:db8:1:2:3::4]:443") != source.RemotePrefix("[2001:db8:1:2:ffff::9]:1") || source.RemotePrefix("[2001:db8:1:3::4]:443") == source.RemotePrefix("[2001:db8:1:2::4]:443") {
			t.Fatal("IPv6 keys are not /64 prefixes")
		}
		if source.RemotePrefix("192.0.2.1:5") != "192.0.2.1" || source.RemotePrefix("[::ffff:192.0.2.1]:5") != "192.0.2.1" {
			t.Fatal("IPv4 keys")
		}
	})
	t.Run("GET", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "https://as.example/register", nil))
		if rec.Code != 405 {
			t.Fatalf("%d", rec.Code)
		}
	})
}

// cimdServer serves client metadata documents over TLS on loopback.
type cimdServer struct {
	srv     *httptest.Server
	docs    map[string]func(w http.ResponseWriter, base string)
	fetches atomic.Int64
}

func newCIMDServer(t *testing.T) *cimdServer {
	s := &cimdServer{docs: map[string]func(http.ResponseWriter, string){}}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if f, ok := s.docs[r.URL.Path]; ok {
			f(w, s.srv.URL)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func jsonDoc(cacheControl string, doc map[string]any) func(http.ResponseWriter, string) {
	return func(w http.ResponseWriter, base string) {
		w.Header().Set("Content-Type", "application/json")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		b, _ := json.Marshal(doc)
		w.Write([]byte(strings.ReplaceAll(string(b), "BASE", base)))
	}
}

func TestCIMD(t *testing.T) {
	s := newCIMDServer(t)
	tlsConfig := s.srv.Client().Transport.(*http.Transport).TLSClientConfig
	r := NewCIMDResolver(CIMDOptions{InsecureAllowLoopback: true, TLSConfig: tlsConfig})
	good := map[string]any{"client_id": "BASE/client.json", "client_name": "Claude", "redirect_uris": []string{"http://127.0.0.1/callback"}}
	s.docs["/client.json"] = jsonDoc("max-age=3600", good)
	big := map[string]any{"client_id": "BASE/big.json", "client_name": strings.Repeat("x", 20<<10), "redirect_uris": []string{"https://claude.ai/api/mcp/auth_callback"}}
	s.docs["/big.json"] = jsonDoc("", big)

	c, err := r.Resolve(context.Background(), s.srv.URL+"/client.json")
	if err != nil || c.Kind != KindCIMD || !c.Public() || c.MatchRedirect("http://127.0.0.1:4242/callback") != nil {
		t.Fatalf("Resolve: %+v %v", c, err)
	}
	if _, err := r.Resolve(context.Background(), s.srv.URL+"/client.json"); err != nil || s.fetches.Load() != 1 {
		t.Fatalf("document not cached per max-age: %d fetches, %v", s.fetches.Load(), err)
	}
	if _, err := r.Resolve(context.Background(), s.srv.URL+"/big.json"); err != nil {
		t.Fatalf("a 20 KB document (above the usual 5 KB cap) was refused: %v", err)
	}

	abuse := []struct {
		name    string
		path    string
		handler func(http.ResponseWriter, string)
		want    string
	}{
		{"client_id mismatch", "/mismatch.json", jsonDoc("", map[string]any{"client_id": "https://evil.example/client.json", "redirect_uris": []string{"https://a.example/cb"}}), "does not equal"},
		{"secret in the document", "/secret.json", jsonDoc("", map[string]any{"client_id": "BASE/secret.json", "client_secret": "s", "redirect_uris": []string{"https://a.example/cb"}}), "client_secret"},
		{"secret-based auth method", "/basic.json", jsonDoc("", map[string]any{"client_id": "BASE/basic.json", "token_endpoint_auth_method": "client_secret_basic", "redirect_uris": []string{"https://a.example/cb"}}), "shared secret"},
		{"no redirect URIs", "/noredirect.json", jsonDoc("", map[string]any{"client_id": "BASE/noredirect.json"}), "no redirect_uris"},
		{"javascript redirect", "/js.json", jsonDoc("", map[string]any{"client_id": "BASE/js.json", "redirect_uris": []string{"javascript:alert(1)"}}), "javascript"},
		{"non-JSON", "/html.json", func(w http.ResponseWriter, _ string) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>"))
		}, "not JSON"},
		{"invalid JSON", "/broken.json", func(w http.ResponseWriter, _ string) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte("{"))
		}, "not a JSON"},
		{"oversized document", "/huge.json", func(w http.ResponseWriter, _ string) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"client_name":"` + strings.Repeat("a", 70<<10) + `"}`))
		}, "larger than"},
		{"redirect to an internal host", "/redirect.json", func(w http.ResponseWriter, _ string) {
			w.Header().Set("Location", "http://169.254.169.254/latest/meta-data")
			w.WriteHeader(302)
		}, "redirect"},
		{"not found", "/missing.json", nil, "HTTP 404"},
	}
	for _, tt := range abuse {
		t.Run(tt.name, func(t *testing.T) {
			if tt.handler != nil {
				s.docs[tt.path] = tt.handler
			}
			before := s.fetches.Load()
			for range 2 {
				_, err := r.Resolve(context.Background(), s.srv.URL+tt.path)
				var ce *CIMDError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want a CIMDError mentioning %q", err, tt.want)
				}
			}
			if s.fetches.Load()-before != 2 {
				t.Fatalf("a failure was cached")
			}
		})
	}
}

func TestCIMDSSRF(t *testing.T) {
	r := NewCIMDResolver(CIMDOptions{})
	for name, id := range map[string]string{
		"private IP":                     "https://10.0.0.1/client.json",
		"cloud metadata link-local":      "https://169.254.169.254/client.json",
		"DNS name resolving to loopback": "https://localhost/client.json",
		"loopback IP":                    "https://127.0.0.1/client.json",
		"unspecified":                    "https://0.0.0.0/client.json",
		"IPv6 loopback":                  "https://[::1]/client.json",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Resolve(context.Background(), id)
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("err = %v, want ErrForbiddenAddress", err)
			}
		})
	}
	for name, id := range map[string]string{
		"http scheme": "http://clients.example.com/client.json",
		"root path":   "https://clients.example.com/",
		"no path":     "https://clients.example.com",
		"fragment":    "https://clients.example.com/c.json#x",
		"userinfo":    "https://u:p@clients.example.com/c.json",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := r.Resolve(context.Background(), id); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestResolver(t *testing.T) {
	store := NewMemoryStore(0)
	dyn, _, _ := (&Policy{}).Register(Metadata{RedirectURIs: []string{"https://a.example/cb"}, TokenEndpointAuthMethod: "none"})
	store.Put(context.Background(), dyn)
	static := Static("quickstart-client", "s", Metadata{RedirectURIs: []string{"http://127.0.0.1/callback"}}, RedirectPolicy{})
	r := &Resolver{Static: map[string]*Client{static.ID: static}, Store: store}
	if c, err := r.Client(context.Background(), "quickstart-client"); err != nil || c != static {
		t.Fatalf("static: %v", err)
	}
	if c, err := r.Client(context.Background(), dyn.ID); err != nil || c.Kind != KindDynamic {
		t.Fatalf("dcr: %v", err)
	}
	if _, err := r.Client(context.Background(), "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := r.Client(context.Background(), "https://clients.example.com/c.json"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CIMD id without CIMD: %v", err)
	}
}

// A registration flood fills the store to its bound and no further: the
// next registration is 503 with Retry-After, nothing already registered is
// evicted, and the refused request does not use up its sender's rate budget.
func TestRegistrationFloodBoundedStore(t *testing.T) {
	clients := NewSharedStore(store.NewMemory(3, 1<<20), time.Hour)
	h := &DCRHandler{Policy: Policy{RateLimit: 10}, Store: clients}
	body := `{"redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"none"}`
	var ids []string
	for range 3 {
		rec, out := register(t, h, "application/json", body, nil)
		if rec.Code != 201 {
			t.Fatalf("registration: %d %v", rec.Code, out)
		}
		ids = append(ids, out["client_id"].(string))
	}
	rec, out := register(t, h, "application/json", body, nil)
	if rec.Code != 503 || out["error"] != "temporarily_unavailable" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("registration past the bound: %d %v", rec.Code, out)
	}
	for _, id := range ids {
		if _, err := clients.Get(context.Background(), id); err != nil {
			t.Fatalf("%s evicted: %v", id, err)
		}
	}
	if b, _ := h.buckets.Get("192.0.2.1"); b == nil || b.n != 3 {
		t.Fatalf("the refused registration was charged: %+v", b)
	}
}
