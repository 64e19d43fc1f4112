package auth_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/internal/kit"
	"github.com/mcpauth/mcpauth/scopes"
)

// Protect hands the SDK adapters' dispatch gates the body it decided
// (kit.Checked) only when that body is one message whose guarded
// operation it found known and allowed: never a batch, an operation it did
// not know, one named by the headers alone, or a request without a body.
func TestCheckedBodyOnlyWhenDecided(t *testing.T) {
	as := newTestAS(t)
	a := newAuth(t, as, nil)
	var got []byte
	h := a.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = kit.Checked(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}), func(method, name string) (scopes.Requirement, bool) {
		return scopes.All("notes:read"), name == "whoami"
	})
	tok := as.mint("rsa-1", as.claims(resource, "notes:read"), nil)
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}`
	for _, c := range []struct {
		name, method, body, mcpMethod string
		want                          bool
	}{
		{"a known tool, allowed", "POST", call, "", true},
		{"a listing (nothing guarded)", "POST", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "", true},
		{"a tool the lookup does not know", "POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"later"}}`, "", false},
		{"a batch", "POST", "[" + call + "," + strings.Replace(call, `"id":1`, `"id":2`, 1) + "]", "", false},
		{"the operation in the headers only", "POST", `not json`, "tools/call", false},
		{"a GET", "GET", "", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got = []byte("unset")
			r := httptest.NewRequest(c.method, resource, strings.NewReader(c.body))
			r.Header.Set("Authorization", "Bearer "+tok)
			if c.mcpMethod != "" {
				r.Header.Set("Mcp-Method", c.mcpMethod)
				r.Header.Set("Mcp-Name", "whoami")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusNoContent {
				t.Fatalf("HTTP %d %s", rec.Code, rec.Body)
			}
			if c.want != (got != nil) || c.want && !bytes.Equal(got, []byte(c.body)) {
				t.Fatalf("kit.Checked = %q, want the body: %v", got, c.want)
			}
		})
	}
}
