package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/scopes"
)

// maxBody is the default Config.MaxBodyBytes, and maxToken the default
// VerifierConfig.MaxTokenBytes: hostile inputs are measured at the largest size the
// middleware accepts.
const (
	maxBody  = 4 << 20
	maxToken = 16 << 10
)

// fill repeats unit inside prefix...suffix until the whole is size bytes.
func fill(prefix, unit func(i int) string, suffix string, size int) []byte {
	var b bytes.Buffer
	b.WriteString(prefix(0))
	for i := 0; b.Len()+len(suffix) < size; i++ {
		u := unit(i)
		if b.Len()+len(u)+len(suffix) > size {
			break
		}
		b.WriteString(u)
	}
	b.WriteString(suffix)
	return b.Bytes()
}

func lit(s string) func(int) string { return func(int) string { return s } }

// hostileBodies are the worst JSON-RPC bodies found for the operation check,
// each of size bytes, beside the benign one: a tools/call whose argument is
// one long string.
func hostileBodies(size int) map[string][]byte {
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note","arguments":`
	return map[string][]byte{
		"benign":                   fill(lit(call+`{"text":"`), lit("abcdefgh"), `"}}}`, size),
		"many-members-top-level":   fill(lit(`{`), func(i int) string { return fmt.Sprintf(`"%x":0,`, i) }, `"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note"}}`, size),
		"many-members-in-params":   fill(lit(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{`), func(i int) string { return fmt.Sprintf(`"%x":0,`, i) }, `"name":"add_note"}}`, size),
		"escaped-member-names":     fill(lit(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{`), lit(`"\u006e\u0061":0,`), `"name":"add_note"}}`, size),
		"non-ascii-member-names":   fill(lit(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{`), lit(`"ſſ":0,`), `"name":"add_note"}}`, size),
		"deep-nesting":             fill(lit(call), lit("["), "", size/2),
		"tiny-values-in-arguments": fill(lit(call+`[`), lit(`0,`), `0]}}`, size),
		"escaped-string-argument":  fill(lit(call+`{"text":"`), lit(`\u00e9\n`), `"}}}`, size),
		"whitespace":               fill(lit(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note"}`), lit("        "), "}", size),
		"batch-of-64":              batch(64, size),
		"values-back-to-back":      fill(lit(""), lit(`{"jsonrpc":"2.0","method":"notifications/x"}`), `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note"}}`, size),
	}
}

func batch(n, size int) []byte {
	per := size/n - 200
	msg := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note","arguments":{"t":"` + strings.Repeat("a", per) + `"}}}`
	return []byte("[" + strings.Repeat(msg+",", n-1) + msg + "]")
}

// BenchmarkAdversarialBody sends each hostile body shape at the maximum body
// size through the whole middleware (cached token, the operation check, a
// handler that reads nothing) and reports its cost as a multiple of the
// benign body of the same size (x_benign); the target is at most 5.
func BenchmarkAdversarialBody(b *testing.B) {
	as := newTestAS(b)
	a := newAuth(b, as, nil)
	lookup := func(method, name string) (scopes.Requirement, bool) {
		return scopes.All("notes:write"), name == "add_note"
	}
	h := a.Protect(noop, lookup)
	tok := as.mint("rsa-1", as.claims(resource, "notes:read notes:write"), nil)
	run := func(body []byte) func(b *testing.B) {
		return func(b *testing.B) {
			r, _ := http.NewRequest("POST", resource, nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("Content-Type", "application/json")
			r.ContentLength = int64(len(body))
			w := &discardWriter{h: http.Header{}}
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r.Body = io.NopCloser(bytes.NewReader(body))
				h.ServeHTTP(w, r)
			}
		}
	}
	compareToBenign(b, hostileBodies(maxBody), run)
}

// oversizedTokens are the worst token shapes for the claim scanner at the
// maximum token size, beside a benign token of the same size (one long
// claim); none carries a valid signature, so each costs the scan and a
// failed verification.
func oversizedTokens(tok string) map[string]string {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	room := (maxToken-len(parts[0])-len(parts[2])-2)*3/4 - len(payload) - 16
	with := func(extra []byte) string {
		p := append(append([]byte("{"), extra...), payload[1:]...)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2][:len(parts[2])-4] + "AAAA"
	}
	members := func(unit func(i int) string) []byte {
		return fill(lit(""), unit, "", room)
	}
	return map[string]string{
		"benign":               with([]byte(`"x":"` + strings.Repeat("a", room-8) + `",`)),
		"many-claims":          with(members(func(i int) string { return fmt.Sprintf(`"%x":0,`, i) })),
		"repeated-claim-names": with(members(lit(`"a":0,`))),
		"escaped-claim-names":  with(members(func(i int) string { return fmt.Sprintf(`"\u%04x":0,`, 0x100+i%0xd000) })),
		"deep-claim":           with([]byte(`"x":` + strings.Repeat("[", room/2-8) + strings.Repeat("]", room/2-8) + `,`)),
	}
}

// BenchmarkAdversarialToken verifies each hostile token shape at the maximum
// token size (token cache off) and reports its cost as a multiple of the
// benign token of the same size (x_benign); the target is at most 5.
func BenchmarkAdversarialToken(b *testing.B) {
	as := newTestAS(b)
	v := newVerifier(b, as, func(c *auth.VerifierConfig) { c.TokenCacheTTL = -1 })
	toks := oversizedTokens(as.mint("rsa-1", as.claims(resource, "notes:read"), nil))
	run := func(tok string) func(b *testing.B) {
		return func(b *testing.B) {
			if len(tok) > maxToken {
				b.Fatalf("token of %d bytes", len(tok))
			}
			b.SetBytes(int64(len(tok)))
			for b.Loop() {
				if _, err := v.Verify(context.Background(), tok); err == nil {
					b.Fatal("accepted")
				}
			}
		}
	}
	compareToBenign(b, toks, run)
}

// compareToBenign runs the "benign" input first, then every other one,
// each reporting its time per operation as a multiple of the benign one's.
func compareToBenign[V any](b *testing.B, inputs map[string]V, run func(V) func(*testing.B)) {
	var benignNs float64
	b.Run("benign", func(b *testing.B) {
		run(inputs["benign"])(b)
		benignNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(1, "x_benign")
	})
	for _, name := range sortedKeys(inputs) {
		if name == "benign" {
			continue
		}
		b.Run(name, func(b *testing.B) {
			run(inputs[name])(b)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benignNs, "x_benign")
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

// TestHostileShapesAreDecided runs every hostile shape once through the
// middleware, so the benchmark inputs are known to reach the check they
// attack (and stay correct): each body is decided, each token refused.
func TestHostileShapesAreDecided(t *testing.T) {
	as := newTestAS(t)
	a := newAuth(t, as, func(c *auth.Config) { c.Tokens.TokenCacheTTL = -1 })
	for name, tok := range oversizedTokens(as.mint("rsa-1", as.claims(resource, "notes:read"), nil)) {
		if len(tok) > maxToken {
			t.Errorf("%s: %d bytes", name, len(tok))
		}
		if _, err := verify(a, tok); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	lookup := func(method, name string) (scopes.Requirement, bool) {
		return scopes.All("notes:write"), name == "add_note"
	}
	tok := as.mint("rsa-1", as.claims(resource, "notes:read"), nil)
	for name, body := range hostileBodies(64 << 10) {
		r, _ := http.NewRequest("POST", resource, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+tok)
		res := call(t, a.Protect(noop, lookup), r)
		if name == "deep-nesting" && res.status != 400 {
			t.Errorf("%s: %d, want 400: deeper than Config.MaxJSONDepth", name, res.status)
		}
		if name == "tiny-values-in-arguments" || name == "escaped-string-argument" || name == "benign" {
			if res.status != 403 && res.status != 200 {
				t.Errorf("%s: %d", name, res.status)
			}
			continue
		}
		if res.status != 403 && res.status != 400 {
			t.Errorf("%s: %d, want the guarded call refused", name, res.status)
		}
	}
}

// BenchmarkDeepBodyRefusal sends bodies of 64 KiB to 4 MiB whose nesting
// passes Config.MaxJSONDepth only at their end (the scan reads all of
// them): each is refused with 400 before any decoder sees it, at a cost
// linear in its size (the MB/s column stays flat).
func BenchmarkDeepBodyRefusal(b *testing.B) {
	as := newTestAS(b)
	a := newAuth(b, as, nil)
	h := a.Protect(noop, func(string, string) (scopes.Requirement, bool) { return scopes.Requirement{}, false })
	tok := as.mint("rsa-1", as.claims(resource, "notes:read"), nil)
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20, 4<<20 - 1024} {
		text := strings.Repeat("a", size-1200)
		body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"t":"` + text + `","deep":` +
			strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}}`)
		b.Run(fmt.Sprintf("bytes=%d", len(body)), func(b *testing.B) {
			r, _ := http.NewRequest("POST", resource, nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("Content-Type", "application/json")
			r.ContentLength = int64(len(body))
			w := &discardWriter{h: http.Header{}}
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r.Body = io.NopCloser(bytes.NewReader(body))
				w.code = 0
				h.ServeHTTP(w, r)
				if w.code != http.StatusBadRequest {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}
