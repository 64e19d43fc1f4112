package metadata

import (
	"encoding/json"
	"testing"
)

func FuzzParseProtectedResource(f *testing.F) {
	for _, s := range []string{`{"resource":"https://a/mcp","authorization_servers":["https://as"]}`, `{}`, `[]`, `{"resource":"https://a#x"}`, `{"resource":"https://a"} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := ParseProtectedResource(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseProtectedResource(out)
		if err != nil || again.Resource != doc.Resource || len(again.AuthorizationServers) != len(doc.AuthorizationServers) {
			t.Fatalf("re-encoded document does not parse back: %v", err)
		}
	})
}

func FuzzParseAuthorizationServer(f *testing.F) {
	for _, s := range []string{`{"issuer":"https://as","code_challenge_methods_supported":["S256"]}`, `{"issuer":""}`, `null`, `{"issuer":"https://as","client_id_metadata_document_supported":true}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseAuthorizationServer(b)
		if err != nil {
			return
		}
		out, _ := json.Marshal(m)
		again, err := ParseAuthorizationServer(out)
		if err != nil || again.Issuer != m.Issuer || again.SupportsS256() != m.SupportsS256() {
			t.Fatalf("re-encoded document does not parse back: %v", err)
		}
	})
}
