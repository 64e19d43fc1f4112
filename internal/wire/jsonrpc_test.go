package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

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

// FuzzScanMembersMatchesDecoder holds the linear member reader to
// encoding/json: on a valid JSON object, the members it reads are the ones
// encoding/json's tokenizer finds under the same names (folded as struct
// fields are matched, requestId exactly), and it refuses exactly when one
// of them appears twice.
func FuzzScanMembersMatchesDecoder(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":[1,{"b":"}"}]}}}`,
		`{"method":"tools/call","METHOD":"x"}`, `{}`, ` { "a" : "b\"}" , "c":[] } `, `{"n\u0061me":1}`,
		`{"a":"\\"}`, `{"paramſ":true,"params":false}`, `{"requestId":1,"requestid":2}`, `{"\ud800":1,"\u0069d":2}`,
		"{\"na\xffme\":1}", `{"requestId":1,"requestId":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || bytes.TrimSpace(b)[0] != '{' {
			return
		}
		ms, err := readMembers(b)
		if errors.Is(err, ErrNotJSONRPC) {
			t.Fatalf("a valid object %q was not read", b)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.Token()
		var want [nSlots][]json.RawMessage
		for dec.More() {
			tok, _ := dec.Token()
			var v json.RawMessage
			if dec.Decode(&v) != nil {
				t.Fatal("decoder failed on valid JSON")
			}
			name := tok.(string)
			for slot, sn := range slotNames {
				if slot == slotRequestID && name == sn || slot != slotRequestID && strings.EqualFold(name, sn) {
					want[slot] = append(want[slot], v)
				}
			}
		}
		dup := false
		for _, w := range want {
			dup = dup || len(w) > 1
		}
		if dup != (err != nil) {
			t.Fatalf("duplicate %v, reader error %v for %q", dup, err, b)
		}
		if err != nil {
			return
		}
		for slot, w := range want {
			got, has := ms.get(slot)
			if has != (len(w) == 1) || has && !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(w[0])) {
				t.Fatalf("member %s: reader %q (%v), decoder %q for %q", slotNames[slot], got, has, w, b)
			}
		}
	})
}

// FuzzParseMessageMatchesDecoder holds the message reader to what an MCP
// SDK decoding a request with encoding/json sees: the same method and the
// same target name for every valid single-message body it accepts.
func FuzzParseMessageMatchesDecoder(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}`,
		`{"method":"resources/read","params":{"URI":"notes://all"}}`,
		`{"Method":"prompts/get","PARAMS":{"n\u0061me":"p"}}`,
		`{"method":"tools/call","params":{"name":"a\u00e9\ud83d\ude00"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		m, err := parseMessage(b)
		if err != nil || !m.Guarded {
			return
		}
		var sdk struct {
			Method string
			Params struct {
				Name string
				URI  string
			}
		}
		if json.Unmarshal(b, &sdk) != nil {
			return // the SDK refuses it: nothing runs
		}
		name := sdk.Params.Name
		if m.Method == "resources/read" {
			name = sdk.Params.URI
		}
		if sdk.Method != m.Method || name != m.Name {
			t.Fatalf("reader (%q, %q), encoding/json (%q, %q) for %q", m.Method, m.Name, sdk.Method, name, b)
		}
	})
}

// FuzzDecodeString holds the fast string decoder to encoding/json.
func FuzzDecodeString(f *testing.F) {
	for _, s := range []string{`"add_note"`, `"a\u0062"`, `"\ud800"`, " \"x\" ", `"a"b"`, "\"\x01\"", `1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ferr := DecodeString(b)
		var slow string
		serr := json.Unmarshal(b, &slow)
		if (ferr == nil) != (serr == nil) || (ferr == nil && fast != slow) {
			t.Fatalf("DecodeString(%q) = %q, %v; encoding/json: %q, %v", b, fast, ferr, slow, serr)
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

// FuzzDeeperThan holds the nesting check to encoding/json's view of every
// valid document: deeper than k exactly when its tokens open more than k
// arrays and objects at once.
func FuzzDeeperThan(f *testing.F) {
	for _, s := range []string{`{}`, `[[[]]]`, `{"a":[{"b":"[[[["}]}`, `"\"[["`, `[1,[2,[3,{"x":{}}]]]`, `{"a":"\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			DeeperThan(b, 3) // no panic, whatever it answers
			return
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		depth, deepest := 0, 0
		for {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			switch tok {
			case json.Delim('{'), json.Delim('['):
				depth++
				deepest = max(deepest, depth)
			case json.Delim('}'), json.Delim(']'):
				depth--
			}
		}
		for k := range 6 {
			if got := DeeperThan(b, k); got != (deepest > k) {
				t.Fatalf("DeeperThan(%q, %d) = %v; depth %d", b, k, got, deepest)
			}
		}
	})
}
