package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/internal/wire"
)

// TestInflightKeysCollideAsTheSDKsDo: ids an SDK formatting decoded ids
// with %v cannot tell apart must claim the same key, or another subject
// could slip a cancellation past the check by spelling the id differently.
func TestInflightKeysCollideAsTheSDKsDo(t *testing.T) {
	for _, same := range [][]string{{`1`, `1.0`, `"1"`, `1e0`}, {`"a"`, `"\u0061"`}} {
		for _, id := range same[1:] {
			if inflightKey(json.RawMessage(id)) != inflightKey(json.RawMessage(same[0])) {
				t.Errorf("%s and %s map to different keys", id, same[0])
			}
		}
	}
	for _, id := range []string{`0`, `7`, `999999`, `1000000`, `123456789012345`, `"abc-1"`, `"a b"`} {
		var v any
		json.Unmarshal([]byte(id), &v)
		if got, want := inflightKey(json.RawMessage(id)), fmt.Sprint(v); got != want {
			t.Errorf("%s: the fast key %q differs from the decoded %q", id, got, want)
		}
	}
	if long := inflightKey(json.RawMessage(`"` + strings.Repeat("x", 1<<20) + `"`)); len(long) > 80 {
		t.Errorf("a 1 MB id is kept as %d bytes", len(long))
	}
	ft := newInflightTable(10)
	keys := inflightKeys([]wire.Message{{Operation: wire.Operation{ID: json.RawMessage("7")}}, {Cancelled: json.RawMessage("null")}})
	if len(keys) != 1 {
		t.Fatalf("keys %v: a null id is a notification and claims nothing", keys)
	}
	if err := ft.claim(keys, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := ft.claim(keys, "alice"); err != nil {
		t.Fatalf("the same subject twice: %v", err)
	}
	if err := ft.claim(keys, "mallory"); !errors.Is(err, ReasonRequestIDConflict) {
		t.Fatalf("another subject: %v", err)
	}
	ft.release(keys)
	ft.release(keys)
	if err := ft.claim(keys, "mallory"); err != nil {
		t.Fatalf("after alice's requests ended: %v", err)
	}
}
