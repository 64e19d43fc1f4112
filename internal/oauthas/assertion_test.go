package oauthas

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// FuzzClientAssertion posts arbitrary private_key_jwt assertions to the
// token endpoint: it must never panic and never issue a token for
// anything but the one valid assertion (a mutation breaks its signature).
func FuzzClientAssertion(f *testing.F) {
	k := clienttest.NewKey()
	const issuer = "https://as.example"
	s := &Server{Issuer: issuer, Store: store.NewMemory(0, 0),
		Resolver: &registration.Resolver{Static: map[string]*registration.Client{"signed": registration.Static("signed", "",
			registration.Metadata{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: registration.PrivateKeyJWT, JWKS: k.JWKS()}, registration.RedirectPolicy{})}},
		GrantScopes: scopes.Parse, Audience: func([]string) ([]string, error) { return []string{"https://mcp.example/mcp"}, nil },
		Mint: func(Grant) (string, time.Duration) { return "token", time.Hour }}
	valid := k.Assertion("signed", issuer, nil)
	f.Add(valid[:len(valid)-4] + "AAAA")
	f.Add(k.Assertion("signed", issuer, func(c map[string]any) { c["aud"] = "x" }))
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJzaWduZWQifQ.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, assertion string) {
		if assertion == valid {
			return
		}
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientAssertionType}, "client_assertion": {assertion}}
		r := httptest.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeToken(w, r)
		if w.Code == http.StatusOK {
			t.Fatalf("assertion %q was accepted", assertion)
		}
	})
}
