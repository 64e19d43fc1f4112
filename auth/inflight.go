package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/mcpauth/mcpauth/internal/wire"
)

// inflightTable binds the JSON-RPC ids of requests that carry no session to
// the subject that sent them, for as long as the HTTP request is served.
// Without a session, an MCP server can key in-flight requests by id alone
// (mcp-go does), so without this another subject could cancel them with
// notifications/cancelled, or take their id over with a request of its own.
// Entries live only while their request does and are at most
// maxInflightKey bytes, so the table is bounded by the concurrent requests,
// and by max.
type inflightTable struct {
	mu  sync.Mutex
	m   map[string]flight
	max int
}

type flight struct {
	subject string
	n       int
}

// maxInflightKey is the longest id key stored as it is; longer ones are
// stored as their SHA-256.
const maxInflightKey = 64

func newInflightTable(max int) *inflightTable {
	return &inflightTable{m: map[string]flight{}, max: max}
}

// inflightKey maps a raw JSON-RPC id to the key an SDK that decodes ids into
// Go values and formats them with %v would use, so ids that collide there (1,
// 1.0 and "1") collide here too.
func inflightKey(raw json.RawMessage) string {
	if k, ok := plainIDKey(raw); ok {
		return k
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "raw:" + string(raw) // unreadable: the SDK cannot read it either
	}
	k := fmt.Sprint(v)
	if len(k) > maxInflightKey {
		sum := sha256.Sum256([]byte(k))
		k = "sha256:" + hex.EncodeToString(sum[:])
	}
	return k
}

// plainIDKey is inflightKey without decoding for the common ids: a plain
// ASCII string without escapes (formatted as itself) and a non-negative
// integer of at most six digits without leading zeros (formatted as its
// digits; %v writes 1e+06 from a million on).
func plainIDKey(raw json.RawMessage) (string, bool) {
	n := len(raw)
	switch {
	case n >= 2 && n-2 <= maxInflightKey && raw[0] == '"' && raw[n-1] == '"':
		if end, plain := wire.ScanString(raw, 0); end == n && plain {
			return string(raw[1 : n-1]), true
		}
	case n >= 1 && n <= 6 && (raw[0] != '0' || n == 1):
		for _, c := range raw {
			if c < '0' || c > '9' {
				return "", false
			}
		}
		return string(raw), true
	}
	return "", false
}

// claim takes the keys for subject, all or none. It fails with
// [ReasonRequestIDConflict] when another subject holds one of them.
func (ft *inflightTable) claim(keys []string, subject string) error {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	for _, k := range keys {
		if f, ok := ft.m[k]; ok && f.subject != subject {
			return fail(ReasonRequestIDConflict, "the JSON-RPC id %s belongs to a request of another caller that is still in flight; use ids of your own (a request without a session shares the server's id space)", trunc(k))
		}
	}
	if len(ft.m)+len(keys) > ft.max {
		return fail(ReasonSessionLimit, "%d requests without a session are in flight, the most allowed", len(ft.m))
	}
	for _, k := range keys {
		f := ft.m[k]
		f.subject = subject
		f.n++
		ft.m[k] = f
	}
	return nil
}

// release gives back keys taken by claim.
func (ft *inflightTable) release(keys []string) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	for _, k := range keys {
		if f, ok := ft.m[k]; ok {
			if f.n--; f.n == 0 {
				delete(ft.m, k)
			} else {
				ft.m[k] = f
			}
		}
	}
}

// inflightKeys returns the id keys a sessionless body touches: the ids of
// its requests and the requestId of its cancellations.
func inflightKeys(msgs []wire.Message) []string {
	var keys []string
	for _, m := range msgs {
		for _, id := range [2]json.RawMessage{m.ID, m.Cancelled} {
			if id = bytes.TrimSpace(id); len(id) > 0 && string(id) != "null" { // a null id is a notification: nothing to track
				keys = append(keys, inflightKey(id))
			}
		}
	}
	return keys
}
