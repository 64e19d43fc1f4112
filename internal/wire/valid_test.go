package wire

import (
	"encoding/json"
	"testing"
)

// FuzzValidMatchesEncodingJSON holds the validating scanner to
// encoding/json: a document is valid for one exactly when it is for the
// other, and an object exactly when Object.Parse accepts it.
func FuzzValidMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2,{"b":null}],"c":"\u00e9\n","d":-0.5e+10,"e":true,"f":false}`, ` {} `, `[]`, `[[[[]]]]`, `{"a":01}`,
		`{"a":1.}`, `{"a":.5}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `{"a":tru}`, `-`, `1e`, `"\ud800"`,
		"{\"a\":\"\x01\"}", `{"a":[1 2]}`, `{"a":{"b":{}}}}`, `nul`, `{"a":-}`, `{,}`, "{\"\xff\":1}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		i := skipWS(b, 0)
		end := validValue(b, i)
		ours := end >= 0 && skipWS(b, end) == len(b)
		if ours != json.Valid(b) {
			t.Fatalf("validValue says %v, encoding/json %v, for %q", ours, !ours, b)
		}
		isObj := ours && b[i] == '{'
		if ok := new(Object).Parse(b); ok != isObj {
			t.Fatalf("Parse %v, encoding/json object %v, for %q", ok, isObj, b)
		}
	})
}
