package jsontype

import (
	"encoding/json"
	"testing"
)

func TestOf(t *testing.T) {
	for in, want := range map[string]string{`null`: "null", `"x"`: "a string", `1.5`: "a number", `true`: "a boolean", `[1]`: "an array", `{"a":1}`: "an object"} {
		var v any
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			t.Fatal(err)
		}
		if got := Of(v); got != want {
			t.Errorf("Of(%s) = %q, want %q", in, got, want)
		}
	}
}
