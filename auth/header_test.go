package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "https://mcp.example.com/mcp?access_token=abc", nil)
	if _, err := bearerToken(r); !errors.Is(err, ReasonRequestInvalid) {
		t.Fatalf("token in the query: %v", err)
	}
	r = httptest.NewRequest(http.MethodPost, "https://mcp.example.com/mcp", nil)
	r.Header.Set("Authorization", "bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	if tok, err := bearerToken(r); err != nil || tok != "eyJhbGciOiJSUzI1NiJ9.e30.c2ln" {
		t.Fatalf("lower-case scheme: %q %v", tok, err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "BEARER  x==", "Basic dXNlcjpwdw==", "Bearer ", "Bearer a b", `Bearer "x"`, "", "Bearer\tx", "Bearer a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, _, err := parseCredentials(v)
		if err == nil {
			err = checkB64Token(tok)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \"\\\r\n\t,") {
			t.Fatalf("parseCredentials(%q) returned unsafe token %q", v, tok)
		}
		again, _, err := parseCredentials("Bearer " + tok)
		if err != nil || again != tok {
			t.Fatalf("round trip %q -> %q, %v", tok, again, err)
		}
	})
}
