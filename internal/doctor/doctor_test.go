package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/auth/authtest"
)

// brokenServer is an MCP server front whose discovery can be broken in each
// way SPEC.md section 6 lists. The authorization server is real (authtest)
// unless asMeta overrides its metadata.
type brokenServer struct {
	srv        *httptest.Server
	as         *authtest.Server
	mcpURL     string
	challenge  func(base string) string // "" means no WWW-Authenticate
	pathDoc    func(base string) any    // nil means 404
	rootDoc    func(base string) any
	afterPath  bool // serve the metadata after the path instead (wrong)
	expose     bool
	preflight  int
	allowed    string                // Access-Control-Allow-Headers of the preflight
	asMeta     func(base string) any // nil: advertise the authtest server
	issuerPath string
}

func newBroken(t *testing.T, mutate func(b *brokenServer)) *brokenServer {
	t.Helper()
	b := &brokenServer{expose: true, preflight: 204, allowed: "Authorization, Content-Type, Mcp-Session-Id, Mcp-Protocol-Version"}
	b.as = authtest.Start(authtest.Options{AutoApprove: true})
	t.Cleanup(b.as.Close)
	mux := http.NewServeMux()
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	b.mcpURL = b.srv.URL + "/mcp"
	doc := func(base string) any {
		return map[string]any{"resource": base + "/mcp", "authorization_servers": []string{b.issuer()}, "scopes_supported": []string{"notes:read"}}
	}
	b.challenge = func(base string) string {
		return fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp", scope="notes:read"`, base)
	}
	b.pathDoc, b.rootDoc = doc, doc
	mutate(b)
	serveJSON := func(f func(string) any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if f == nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(f(b.srv.URL))
		}
	}
	if b.afterPath {
		mux.Handle("/mcp/.well-known/oauth-protected-resource", serveJSON(b.pathDoc))
	} else {
		mux.Handle("/.well-known/oauth-protected-resource/mcp", serveJSON(b.pathDoc))
	}
	mux.Handle("/.well-known/oauth-protected-resource", serveJSON(b.rootDoc))
	if b.asMeta != nil {
		b.issuerPath = "/as"
		mux.Handle("/.well-known/oauth-authorization-server/as", serveJSON(b.asMeta))
	}
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Allow-Headers", b.allowed)
			w.WriteHeader(b.preflight)
			return
		}
		if c := b.challenge(b.srv.URL); c != "" {
			w.Header().Set("WWW-Authenticate", c)
		}
		if b.expose {
			w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate")
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	return b
}

func (b *brokenServer) issuer() string {
	if b.asMeta != nil {
		return b.srv.URL + "/as"
	}
	return b.as.URL
}

func find(r *Report, name string) *Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

func TestHealthyServerPasses(t *testing.T) {
	b := newBroken(t, func(*brokenServer) {})
	r := Run(context.Background(), b.mcpURL, Options{})
	if r.Failed() {
		t.Fatalf("healthy server failed:\n%s", r.Text())
	}
	for _, c := range r.Checks {
		if c.Status != Pass {
			t.Fatalf("healthy server: %s\n%s", c.Name, r.Text())
		}
	}
}

func TestBrokenServers(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(b *brokenServer)
		check  string
		status Status
		fix    string
	}{
		{"path-inserted metadata missing (failure mode 1)", func(b *brokenServer) { b.pathDoc = nil }, "path-inserted metadata", Fail, "between host and path"},
		{"metadata mounted after the path (failure mode 1)", func(b *brokenServer) {
			b.afterPath = true
			b.challenge = func(string) string { return `Bearer scope="notes:read"` }
		}, "path-inserted metadata", Fail, "between host and path"},
		{"resource is the origin (failure mode 2)", func(b *brokenServer) {
			b.pathDoc = func(base string) any {
				return map[string]any{"resource": base, "authorization_servers": []string{b.issuer()}}
			}
			b.rootDoc = b.pathDoc
		}, "resource equals the URL", Fail, "origin"},
		{"resource with a trailing slash (failure mode 2)", func(b *brokenServer) {
			b.pathDoc = func(base string) any {
				return map[string]any{"resource": base + "/mcp/", "authorization_servers": []string{b.issuer()}}
			}
			b.rootDoc = b.pathDoc
		}, "resource equals the URL", Fail, "trailing slash"},
		{"401 without WWW-Authenticate (failure mode 6)", func(b *brokenServer) { b.challenge = func(string) string { return "" } }, "401 challenge", Fail, "proxy"},
		{"401 hides WWW-Authenticate from browsers (failure mode 7)", func(b *brokenServer) { b.expose = false }, "CORS exposes challenge", Warn, "expose WWW-Authenticate"},
		{"preflight challenged (failure mode 7)", func(b *brokenServer) { b.preflight = 401 }, "CORS preflight", Fail, "OPTIONS"},
		{"preflight without Mcp-Protocol-Version (mcp-go's default CORS)", func(b *brokenServer) { b.allowed = "Authorization, Content-Type, Mcp-Session-Id" }, "CORS preflight", Warn, "auth.CORS"},
		{"duplicated challenge parameter (failure mode 8)", func(b *brokenServer) {
			b.challenge = func(base string) string {
				return fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp", scope="a", scope="b"`, base)
			}
		}, "challenge well formed", Fail, "once"},
		{"relative resource_metadata (failure mode 8)", func(b *brokenServer) {
			b.challenge = func(string) string { return `Bearer resource_metadata="/.well-known/oauth-protected-resource/mcp"` }
		}, "challenge well formed", Fail, "absolute"},
		{"unquoted challenge value (failure mode 8)", func(b *brokenServer) {
			b.challenge = func(base string) string {
				return `Bearer resource_metadata=` + base + `/.well-known/oauth-protected-resource/mcp`
			}
		}, "challenge well formed", Fail, "quoted"},
		{"authorization_servers differs from the issuer by a trailing slash (failure mode 10)", func(b *brokenServer) {
			b.asMeta = func(base string) any {
				return map[string]any{"issuer": base + "/as/", "code_challenge_methods_supported": []string{"S256"}}
			}
		}, "authorization server metadata", Fail, "trailing slash"},
		{"AS metadata without code_challenge_methods_supported (failure mode 11)", func(b *brokenServer) {
			b.asMeta = func(base string) any {
				return map[string]any{"issuer": base + "/as", "registration_endpoint": base + "/register"}
			}
		}, "PKCE S256 advertised", Fail, "S256"},
		{"root and path metadata disagree (failure mode 15)", func(b *brokenServer) {
			b.rootDoc = func(base string) any {
				return map[string]any{"resource": base + "/mcp", "authorization_servers": []string{"https://other-as.example"}}
			}
		}, "root and path metadata agree", Fail, "different authorization servers"},
		{"no way to register", func(b *brokenServer) {
			b.asMeta = func(base string) any {
				return map[string]any{"issuer": base + "/as", "code_challenge_methods_supported": []string{"S256"}}
			}
		}, "client registration", Warn, "CIMD or DCR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBroken(t, tt.break_)
			r := Run(context.Background(), b.mcpURL, Options{})
			c := find(r, tt.check)
			if c == nil || c.Status != tt.status || !strings.Contains(c.Fix, tt.fix) {
				t.Fatalf("want %s %q with a fix mentioning %q, got:\n%s", tt.status, tt.check, tt.fix, r.Text())
			}
			if tt.status == Fail && !r.Failed() {
				t.Fatal("report not failed")
			}
		})
	}
}

func TestServerNotProtected(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer srv.Close()
	r := Run(context.Background(), srv.URL+"/mcp", Options{})
	if c := find(r, "401 challenge"); c == nil || c.Status != Fail || !strings.Contains(c.Seen, "200") {
		t.Fatalf("%s", r.Text())
	}
}

func TestTokenChecks(t *testing.T) {
	b := newBroken(t, func(*brokenServer) {})
	for name, tc := range map[string]struct {
		aud   string
		check string
		fix   string
	}{
		"token for another resource (failure mode 3)": {"https://elsewhere.example/mcp", "token aud", "resource="},
		"aud with a trailing slash (failure mode 4)":  {b.mcpURL + "/", "token aud", "trailing slash"},
		"aud is the origin":                           {b.srv.URL, "token aud", "origin"},
	} {
		t.Run(name, func(t *testing.T) {
			tok := b.as.Mint(authtest.TokenRequest{Audience: []string{tc.aud}, Scopes: []string{"notes:read"}})
			r := Run(context.Background(), b.mcpURL, Options{Token: tok})
			c := find(r, tc.check)
			if c == nil || c.Status != Fail || !strings.Contains(c.Fix, tc.fix) {
				t.Fatalf("%s", r.Text())
			}
		})
	}
	t.Run("scope near miss is explained", func(t *testing.T) {
		tok := b.as.Mint(authtest.TokenRequest{Audience: []string{b.mcpURL}, Scopes: []string{"notes:reed"}})
		r := Run(context.Background(), b.mcpURL, Options{Token: tok})
		if c := find(r, "token scopes"); c == nil || c.Status != Warn || !strings.Contains(c.Fix, "edit") {
			t.Fatalf("%s", r.Text())
		}
	})
	t.Run("expired", func(t *testing.T) {
		tok := b.as.Mint(authtest.TokenRequest{Audience: []string{b.mcpURL}, TTL: -1e9 * 3600})
		r := Run(context.Background(), b.mcpURL, Options{Token: tok})
		if c := find(r, "token exp"); c == nil || c.Status != Fail {
			t.Fatalf("%s", r.Text())
		}
	})
}
