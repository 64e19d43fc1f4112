package auth

import (
	"bytes"
	"encoding/json"
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

func FuzzParseOperations(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`))
	f.Add([]byte(`{"method":"resources/read","params":{"uri":"notes://all"}}`))
	f.Add([]byte(`{"method":"tools/call","params":{"name":"a","NAME":"b"}}`))
	f.Add([]byte(`[1,2,{"method":"prompts/get"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := ParseOperations(body)
		if err != nil {
			return
		}
		for _, op := range ops {
			if _, guarded := guardedParam[op.Method]; !guarded {
				t.Fatalf("unguarded method %q reported", op.Method)
			}
		}
	})
}

// FuzzScanMembersMatchesDecoder holds the fast scanner to encoding/json: on
// valid JSON, whenever the scanner decides, it must decide as the decoder
// does, member by member.
func FuzzScanMembersMatchesDecoder(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":[1,{"b":"}"}]}}}`,
		`{"method":"tools/call","METHOD":"x"}`, `{}`, ` { "a" : "b\"}" , "c":[] } `, `{"a":1}x`, `{"n\u0061me":1}`,
		`{"a":"\\"}`, `{"k":true,"K":false}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ferr, ok := scanMembers(b)
		if !ok || !json.Valid(b) {
			return
		}
		slow, serr := decodeMembers(b)
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("scanner error %v, decoder error %v for %q", ferr, serr, b)
		}
		if ferr != nil {
			return
		}
		if len(fast) != len(slow) {
			t.Fatalf("members %v vs %v", fast, slow)
		}
		for _, m := range slow {
			got, _ := fast.get(m.name)
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(m.value)) {
				t.Fatalf("member %q: scanner %q, decoder %q", m.name, got, m.value)
			}
		}
	})
}

// FuzzDecodeString holds the fast string decoder to encoding/json.
func FuzzDecodeString(f *testing.F) {
	for _, s := range []string{`"add_note"`, `"a\u0062"`, `"\ud800"`, " \"x\" ", `"a"b"`, "\"\x01\"", `1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ferr := decodeString(b)
		var slow string
		serr := json.Unmarshal(b, &slow)
		if (ferr == nil) != (serr == nil) || (ferr == nil && fast != slow) {
			t.Fatalf("decodeString(%q) = %q, %v; encoding/json: %q, %v", b, fast, ferr, slow, serr)
		}
	})
}

// TestTrailingDataCannotHideACall: a decoder that reads only the first JSON
// value (mcp-go's SSE transport) or one that reads them all must find every
// guarded call the check found.
func TestTrailingDataCannotHideACall(t *testing.T) {
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note"}}`
	for name, body := range map[string]string{
		"call then junk":              call + ` junk`,
		"call then a number":          call + ` 5`,
		"a number then a call":        `5 ` + call,
		"two values back to back":     `{"jsonrpc":"2.0","id":0,"method":"ping"}` + call,
		"batch then junk":             `[` + call + `] }`,
		"call then an unclosed value": call + ` {"a":`,
	} {
		ops, err := ParseOperations([]byte(body))
		if err != nil || len(ops) != 1 || ops[0].Name != "add_note" {
			t.Errorf("%s: ops %v, err %v", name, ops, err)
		}
	}
}
