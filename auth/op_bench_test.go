package auth

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkOperations measures finding the MCP operation of a tools/call
// request: the body peek, restore and parse.
func BenchmarkOperations(b *testing.B) {
	a := &Authenticator{maxBody: defaultMaxBodyBytes, maxDepth: defaultMaxJSONDepth}
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note","arguments":{"text":"hi"}}}`
	r := httptest.NewRequest("POST", "https://mcp.example.com/mcp", nil)
	r.ContentLength = int64(len(body))
	b.ReportAllocs()
	for b.Loop() {
		r.Body = io.NopCloser(strings.NewReader(body))
		ops, err := a.operations(r)
		if err != nil || len(ops) != 1 || ops[0].Name != "add_note" {
			b.Fatal(ops, err)
		}
	}
}
