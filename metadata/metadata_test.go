package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWellKnownURLs(t *testing.T) {
	tests := []struct{ resource, path, root string }{
		{"https://host/public/mcp", "https://host/.well-known/oauth-protected-resource/public/mcp", "https://host/.well-known/oauth-protected-resource"},
		{"https://host/mcp", "https://host/.well-known/oauth-protected-resource/mcp", "https://host/.well-known/oauth-protected-resource"},
		{"https://host", "https://host/.well-known/oauth-protected-resource", "https://host/.well-known/oauth-protected-resource"},
		{"https://host/", "https://host/.well-known/oauth-protected-resource", "https://host/.well-known/oauth-protected-resource"},
		{"http://127.0.0.1:8080/mcp", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp", "http://127.0.0.1:8080/.well-known/oauth-protected-resource"},
	}
	for _, tt := range tests {
		p, r, err := WellKnownURLs(tt.resource)
		if err != nil || p != tt.path || r != tt.root {
			t.Errorf("WellKnownURLs(%q) = %q, %q, %v; want %q, %q", tt.resource, p, r, err, tt.path, tt.root)
		}
		if strings.HasSuffix(p, "/mcp/.well-known/oauth-protected-resource") {
			t.Errorf("suffix appended after the path instead of inserted: %q", p)
		}
	}
	if _, _, err := WellKnownURLs("/mcp"); !errors.Is(err, ErrInvalidResource) {
		t.Errorf("relative resource accepted: %v", err)
	}
}

func TestCanonicalResource(t *testing.T) {
	tests := []struct {
		name, in  string
		allowHTTP bool
		want      string // "" means an error is expected
	}{
		{"already canonical", "https://mcp.example.com/mcp", false, "https://mcp.example.com/mcp"},
		{"trailing slash dropped", "https://mcp.example.com/mcp/", false, "https://mcp.example.com/mcp"},
		{"scheme and host lowercased", "HTTPS://MCP.Example.COM/Mcp", false, "https://mcp.example.com/Mcp"},
		{"origin only", "https://mcp.example.com/", false, "https://mcp.example.com"},
		{"loopback http allowed", "http://127.0.0.1:8080/mcp", false, "http://127.0.0.1:8080/mcp"},
		{"localhost http allowed", "http://localhost:8080/mcp", false, "http://localhost:8080/mcp"},
		{"ipv6 loopback http allowed", "http://[::1]:8080/mcp", false, "http://[::1]:8080/mcp"},
		{"http internal host leaking behind a proxy", "http://mcp.internal:8080/mcp", false, ""},
		{"http allowed when insecure", "http://mcp.internal:8080/mcp", true, "http://mcp.internal:8080/mcp"},
		{"fragment", "https://mcp.example.com/mcp#x", false, ""},
		{"empty fragment", "https://mcp.example.com/mcp#", false, ""},
		{"query", "https://mcp.example.com/mcp?tenant=1", false, ""},
		{"userinfo", "https://user:pw@mcp.example.com/mcp", false, ""},
		{"relative", "/mcp", false, ""},
		{"javascript scheme", "javascript:alert(1)", false, ""},
		{"ftp scheme", "ftp://mcp.example.com/mcp", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalResource(tt.in, tt.allowHTTP)
			if tt.want == "" {
				if !errors.Is(err, ErrInvalidResource) {
					t.Fatalf("CanonicalResource(%q) = %q, %v; want ErrInvalidResource", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CanonicalResource(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	doc := ProtectedResource{
		Resource:               "https://mcp.example.com/mcp",
		AuthorizationServers:   []string{"https://auth.example.com"},
		ScopesSupported:        []string{"notes:read"},
		BearerMethodsSupported: []string{"header"},
	}
	srv := httptest.NewServer(Handler(doc))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Fatalf("GET lacks CORS or Cache-Control: %v", resp.Header)
	}
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatal(err)
	}
	for _, omitted := range []string{"jwks_uri", "resource_name", "signed_metadata", "dpop_bound_access_tokens_required"} {
		if _, ok := fields[omitted]; ok {
			t.Errorf("empty field %q not omitted: %s", omitted, body)
		}
	}
	parsed, err := ParseProtectedResource(body)
	if err != nil || parsed.Resource != doc.Resource || parsed.AuthorizationServers[0] != "https://auth.example.com" {
		t.Fatalf("round trip: %+v, %v", parsed, err)
	}

	req, _ := http.NewRequest(http.MethodHead, srv.URL, nil)
	resp, _ = http.DefaultClient.Do(req)
	if resp.StatusCode != 200 {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
	resp.Body.Close()

	req, _ = http.NewRequest(http.MethodOptions, srv.URL, nil)
	req.Header.Set("Origin", "https://inspector.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Fatalf("OPTIONS preflight: %d %v", resp.StatusCode, resp.Header)
	}

	resp, _ = http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Fatalf("POST: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestParseDocumentsRejectNonObjects(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `null`, `{"resource":"https://a"} {"x":1}`, `{"resource":1}`, `{}`, `{"resource":"/mcp"}`, `{"resource":"https://a/mcp#f"}`} {
		if _, err := ParseProtectedResource([]byte(in)); err == nil {
			t.Errorf("ParseProtectedResource(%s) accepted", in)
		}
	}
	for _, in := range []string{``, `[]`, `{}`, `{"issuer":5}`, `{"issuer":"https://a"}garbage`} {
		if _, err := ParseAuthorizationServer([]byte(in)); err == nil {
			t.Errorf("ParseAuthorizationServer(%s) accepted", in)
		}
	}
}

func TestDiscoveryURLs(t *testing.T) {
	tests := []struct {
		issuer string
		want   []string
	}{
		{"https://as.example.com", []string{
			"https://as.example.com/.well-known/oauth-authorization-server",
			"https://as.example.com/.well-known/openid-configuration"}},
		{"https://my-tenant.us.auth0.com/", []string{
			"https://my-tenant.us.auth0.com/.well-known/oauth-authorization-server",
			"https://my-tenant.us.auth0.com/.well-known/openid-configuration"}},
		{"https://as.example.com/tenant1", []string{
			"https://as.example.com/.well-known/oauth-authorization-server/tenant1",
			"https://as.example.com/.well-known/openid-configuration/tenant1",
			"https://as.example.com/tenant1/.well-known/openid-configuration"}},
	}
	for _, tt := range tests {
		got, err := DiscoveryURLs(tt.issuer)
		if err != nil || strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("DiscoveryURLs(%q) = %q, %v; want %q", tt.issuer, got, err, tt.want)
		}
	}
	for _, bad := range []string{"as.example.com", "https://as/x?y=1", "https://as/x#f"} {
		if _, err := DiscoveryURLs(bad); err == nil {
			t.Errorf("DiscoveryURLs(%q) accepted", bad)
		}
	}
}

// asServer serves metadata documents at chosen paths; every other path is 404.
type asServer struct {
	docs map[string]string // path -> body
	hits []string
}

func (s *asServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits = append(s.hits, r.URL.Path)
	body, ok := s.docs[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

func TestDiscover(t *testing.T) {
	t.Run("issuer with path found at the third URL", func(t *testing.T) {
		fake := &asServer{docs: map[string]string{}}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		issuer := srv.URL + "/tenant1"
		fake.docs["/tenant1/.well-known/openid-configuration"] = fmt.Sprintf(`{"issuer":%q,"jwks_uri":"%s/keys","code_challenge_methods_supported":["S256"]}`, issuer, srv.URL)
		m, err := Discover(context.Background(), srv.Client(), issuer)
		if err != nil {
			t.Fatal(err)
		}
		if m.JWKSURI != srv.URL+"/keys" || !m.SupportsS256() {
			t.Fatalf("metadata = %+v", m)
		}
		want := "/.well-known/oauth-authorization-server/tenant1 /.well-known/openid-configuration/tenant1 /tenant1/.well-known/openid-configuration"
		if strings.Join(fake.hits, " ") != want {
			t.Fatalf("tried %v, want the spec order %s", fake.hits, want)
		}
	})
	t.Run("issuer differing by a trailing slash is refused", func(t *testing.T) {
		fake := &asServer{docs: map[string]string{}}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		fake.docs["/.well-known/oauth-authorization-server"] = fmt.Sprintf(`{"issuer":"%s/"}`, srv.URL)
		_, err := Discover(context.Background(), srv.Client(), srv.URL)
		var de *DiscoveryError
		if !errors.As(err, &de) || len(de.Attempts) != 2 {
			t.Fatalf("err = %v, want a DiscoveryError with 2 attempts", err)
		}
		if !strings.Contains(de.Attempts[0].Err.Error(), "trailing slash") || !strings.Contains(de.Attempts[1].Err.Error(), "HTTP 404") {
			t.Fatalf("attempts do not say what each URL returned: %+v", de.Attempts)
		}
		if !errors.Is(err, ErrIssuerMismatch) {
			t.Fatalf("errors.Is(err, ErrIssuerMismatch) = false for %v", err)
		}
		if !strings.Contains(err.Error(), srv.URL+"/.well-known/openid-configuration") {
			t.Fatalf("error does not name every URL: %v", err)
		}
	})
	t.Run("metadata larger than the cap", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"issuer":"x","pad":"`+strings.Repeat("a", MaxDocumentBytes)+`"}`)
		}))
		defer srv.Close()
		_, err := Discover(context.Background(), srv.Client(), srv.URL)
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("err = %v, want a size error", err)
		}
	})
	t.Run("slow server times out", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := Discover(ctx, srv.Client(), srv.URL)
		var de *DiscoveryError
		if !errors.As(err, &de) || len(de.Attempts) != 1 {
			t.Fatalf("err = %v, want one attempt then stop on the expired context", err)
		}
	})
}
