package auth

import (
	"bytes"
	"io"
	"net/http/httptest"
	"testing"
)

func FuzzPeekRestoresBody(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`))
	f.Add([]byte(`[{"method":"tools/call","params":{"name":"a"}},{"method":"prompts/get","params":{"name":"b"}}]`))
	f.Add([]byte("\xff\xfe not utf-8"))
	f.Add([]byte(``))
	a := &Authenticator{maxBody: 256}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "https://mcp.example.com/mcp", bytes.NewReader(body))
		_, err := a.operations(r)
		if len(body) > 256 {
			if err == nil {
				t.Fatal("a body over the limit was accepted")
			}
			return
		}
		got, _ := io.ReadAll(r.Body)
		if !bytes.Equal(got, body) {
			t.Fatalf("body not restored: %q -> %q", body, got)
		}
	})
}
