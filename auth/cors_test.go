package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
)

func TestCORSHandler(t *testing.T) {
	reached := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++; w.WriteHeader(http.StatusUnauthorized) })
	do := func(h http.Handler, method, origin string, preflight bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://mcp.example.com/mcp", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if preflight {
			r.Header.Set("Access-Control-Request-Method", "POST")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	open := auth.CORS{}.Handler(next)
	if rec := do(open, "OPTIONS", "https://inspector.example", true); rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "*" ||
		rec.Header().Get("Access-Control-Allow-Headers") == "" || reached != 0 {
		t.Fatalf("preflight: %d %v (reached %d)", rec.Code, rec.Header(), reached)
	}
	if rec := do(open, "POST", "https://inspector.example", false); rec.Code != 401 || rec.Header().Get("Access-Control-Expose-Headers") != "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate" {
		t.Fatalf("a cross-origin 401 must expose the challenge: %d %v", rec.Code, rec.Header())
	}
	if rec := do(open, "POST", "", false); rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a same-origin request got CORS headers: %v", rec.Header())
	}
	listed := auth.CORS{AllowedOrigins: []string{"https://app.example"}}.Handler(next)
	if rec := do(listed, "OPTIONS", "https://evil.example", true); rec.Code != 403 || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from an origin not listed: %d %v", rec.Code, rec.Header())
	}
	if rec := do(listed, "OPTIONS", "https://app.example", true); rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example" || rec.Header().Get("Vary") != "Origin" {
		t.Fatalf("preflight from a listed origin: %d %v", rec.Code, rec.Header())
	}
	// OPTIONS without Access-Control-Request-Method is no preflight: it goes on.
	if before := reached; do(open, "OPTIONS", "https://inspector.example", false).Code != 401 || reached != before+1 {
		t.Fatal("a plain OPTIONS was answered as a preflight")
	}
}
