package security

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// TestFloodsKeepHeapFlat sends the floods of the hardening review to the
// real stack (mcp-go behind mcpauth, the development authorization server)
// and checks the live heap grows by less than 64 MB: session ids the server
// does not know (at the longest accepted length, and oversized), an
// initialize flood from one subject, and /authorize requests with 9 MB
// code challenges.
func TestFloodsKeepHeapFlat(t *testing.T) {
	e := newEnv(t)
	tok := e.mint(e.mcpURL, "notes:read", nil)
	before := liveHeap()
	statuses := map[string]map[int]int{}
	count := func(flood string, status int) {
		if statuses[flood] == nil {
			statuses[flood] = map[int]int{}
		}
		statuses[flood][status]++
	}
	for range 3000 {
		b := make([]byte, 128)
		rand.Read(b)
		o := e.send(t, e.mcpURL, "", http.Header{"Authorization": {"Bearer " + tok}, "Mcp-Session-Id": {hex.EncodeToString(b)}}, toolBody("whoami"))
		count("unknown 256-byte session ids", o.status)
	}
	big := strings.Repeat("s", 512<<10)
	for range 100 {
		o := e.send(t, e.mcpURL, "", http.Header{"Authorization": {"Bearer " + tok}, "Mcp-Session-Id": {big}}, toolBody("whoami"))
		count("512 KB session ids", o.status)
	}
	for range 1000 {
		o := e.send(t, e.mcpURL, "", bearerHeader(tok), initBody)
		count("initialize", o.status)
	}
	for range 20 {
		count("9 MB code_challenge", e.authorizeHugeChallenge(t))
	}
	growth := int64(liveHeap()) - int64(before)
	t.Logf("statuses %v; live heap grew %d KB", statuses, growth>>10)
	if growth > 64<<20 {
		t.Fatalf("the live heap grew by %d MB", growth>>20)
	}
	if statuses["unknown 256-byte session ids"][404] != 3000 || statuses["512 KB session ids"][200] != 0 || statuses["9 MB code_challenge"][302] != 0 {
		t.Fatalf("unexpected answers: %v", statuses)
	}
	if statuses["initialize"][503] == 0 || statuses["initialize"][200] > 100 {
		t.Fatalf("the initialize flood was not bounded by the per-subject session limit: %v", statuses["initialize"])
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
