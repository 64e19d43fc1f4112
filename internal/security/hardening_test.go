package security

import (
	"encoding/base64"
	"fmt"
	"net/http"

	"strings"
	"testing"
	"time"
)

// hardeningRows are the attacks on cost, memory and dispatch of the
// hardening review: each was confirmed against an earlier version.
func hardeningRows() []attack {
	row := func(category, name string, run func(t *testing.T, e *env) observed, status int, reason, chal string) attack {
		return attack{category: category, name: name, run: run, status: status, reason: reason, challenge: chal}
	}
	read := func(e *env) http.Header { return bearerHeader(e.mint(e.mcpURL, "notes:read", nil)) }
	return []attack{
		row("cost", "tool call with 6,000 members in one params object (quadratic member scan)", func(t *testing.T, e *env) observed {
			var b strings.Builder
			b.WriteString(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{`)
			for i := range 6_000 {
				fmt.Fprintf(&b, `"%x":0,`, i)
			}
			b.WriteString(`"name":"add_note"}}`)
			return e.send(t, e.mcpURL, "", read(e), b.String())
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("cost", "token with 700 junk claims, re-signed by nobody (quadratic claim scan)", func(t *testing.T, e *env) observed {
			tok := tamper(e.mint(e.mcpURL, "notes:read", nil), 1, func(b []byte) []byte {
				var extra strings.Builder
				for i := range 700 {
					fmt.Fprintf(&extra, `"%x":0,`, i)
				}
				return append([]byte("{"+extra.String()), b[1:]...)
			})
			return e.send(t, e.mcpURL, "", bearerHeader(tok), initBody)
		}, 401, "signature_invalid", "invalid_token"),
		row("memory", "session id of 300 bytes (kept in memory per binding)", func(t *testing.T, e *env) observed {
			h := read(e)
			h.Set("Mcp-Session-Id", strings.Repeat("s", 300))
			return e.send(t, e.mcpURL, "", h, toolBody("whoami"))
		}, 400, "request_invalid", "invalid_request"),
		row("memory", "session id with bytes outside visible ASCII (space, non-ASCII)", func(t *testing.T, e *env) observed {
			h := read(e)
			h.Set("Mcp-Session-Id", "abc d\xe9f")
			return e.send(t, e.mcpURL, "", h, toolBody("whoami"))
		}, 400, "request_invalid", "invalid_request"),
		row("session", "initialize sent with an old session id: the new session used by another subject", func(t *testing.T, e *env) observed {
			alice := e.mint(e.mcpURL, "notes:read", nil)
			e.send(t, e.mcpURL, "", bearerHeader(alice), initBody)
			old := e.lastSession
			e.send(t, e.mcpURL, "", http.Header{"Authorization": {"Bearer " + alice}, "Mcp-Session-Id": {old}}, initBody)
			if e.lastSession == old {
				t.Fatal("no new session was created")
			}
			mallory := e.as.Mint(authtestReq(e.mcpURL, "mallory"))
			return e.send(t, e.mcpURL, "", http.Header{"Authorization": {"Bearer " + mallory}, "Mcp-Session-Id": {e.lastSession}}, toolBody("whoami"))
		}, 404, "session_mismatch", "-"),
		row("session", "another subject cancels a sessionless request in flight (same JSON-RPC id)", func(t *testing.T, e *env) observed {
			return e.whileWaiting(t, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":41}}`)
		}, 409, "request_id_conflict", "-"),
		row("session", "another subject takes over the id of a sessionless request in flight", func(t *testing.T, e *env) observed {
			return e.whileWaiting(t, `{"jsonrpc":"2.0","id":41.0,"method":"tools/call","params":{"name":"whoami"}}`)
		}, 409, "request_id_conflict", "-"),
		row("dispatch", "task tool (AddTaskTool) annotated admin, called without admin", func(t *testing.T, e *env) observed {
			return e.send(t, e.mcpURL, "", read(e), `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"admin_task","arguments":{},"task":{}}}`)
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("header", "Mcp-Name header encoded as =?base64?...?= (2026-07-28 value encoding)", func(t *testing.T, e *env) observed {
			h := read(e)
			h.Set("Mcp-Method", "tools/call")
			h.Set("Mcp-Name", "=?base64?"+base64.StdEncoding.EncodeToString([]byte("add_note"))+"?=")
			return e.send(t, e.mcpURL, "", h, toolBody("add_note"))
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("header", "Mcp-Name header with malformed base64", func(t *testing.T, e *env) observed {
			h := read(e)
			h.Set("Mcp-Method", "tools/call")
			h.Set("Mcp-Name", "=?base64?%%%?=")
			return e.send(t, e.mcpURL, "", h, toolBody("whoami"))
		}, 400, "header_mismatch", "-"),
		row("debug", "decision trace read through DNS rebinding (Host: rebind.attacker.example)", func(t *testing.T, e *env) observed {
			return e.debug(t, "/debug/auth", http.Header{"Host": {"rebind.attacker.example"}})
		}, 403, "", "-"),
		row("debug", "metrics read by another site's page (Origin and Sec-Fetch-Site: cross-site)", func(t *testing.T, e *env) observed {
			return e.debug(t, "/debug/auth/metrics", http.Header{"Origin": {"https://attacker.example"}, "Sec-Fetch-Site": {"cross-site"}})
		}, 403, "", "-"),
		{category: "debug", name: "decision trace read from this machine", control: true, run: func(t *testing.T, e *env) observed {
			return e.debug(t, "/debug/auth", nil)
		}, status: 200, challenge: "-"},
		row("pkce", "authorize with a 9 MB code_challenge (memory)", func(t *testing.T, e *env) observed {
			status := e.authorizeHugeChallenge(t)
			return observed{status: status, challenge: "-", reason: "invalid_request", accepted: status == http.StatusFound}
		}, 400, "invalid_request", "-"),
		row("pkce", "code_challenge that is not 43 base64url characters", func(t *testing.T, e *env) observed {
			p := e.authParams("quickstart-client", "http://127.0.0.1:5555/callback")
			p.Set("code_challenge", challengeS256+"AAAA")
			return authorizeAt(t, e.as.URL, p)
		}, 302, "invalid_request", "-"),
		{category: "registration", name: "DCR: 200 junk registrations, then a valid one from the same address (registration lock-out)", control: true,
			run: func(t *testing.T, e *env) observed {
				for range 200 {
					if o := e.register(t, "application/json", `{"redirect_uris":["javascript:x"]}`); o.status != 400 {
						t.Fatalf("junk: %+v", o)
					}
				}
				return e.register(t, "application/json", `{"redirect_uris":["https://app.example.com/cb"]}`)
			}, status: 201, challenge: "-"},
	}
}

// whileWaiting starts alice's sessionless request with id 41 and, while it
// runs, sends body as mallory; alice's request must then finish uncancelled.
func (e *env) whileWaiting(t *testing.T, body string) observed {
	alice := e.mint(e.statelessURL, "notes:read", nil)
	done := make(chan observed, 1)
	go func() {
		done <- e.send(t, e.statelessURL, "", bearerHeader(alice), `{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"wait"}}`)
	}()
	select {
	case <-e.waitStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow tool never started")
	}
	cancelled := e.waitCancelled.Load()
	mallory := e.as.Mint(authtestReq(e.statelessURL, "mallory"))
	o := e.send(t, e.statelessURL, "", bearerHeader(mallory), body)
	e.waitRelease <- struct{}{}
	if a := <-done; a.status != 200 || e.waitCancelled.Load() != cancelled {
		o.accepted = true // alice's request was disturbed
	}
	return o
}

// authorizeHugeChallenge posts an authorization request with a 9 MB
// code_challenge and returns the status.
func (e *env) authorizeHugeChallenge(t *testing.T) int {
	p := e.authParams("quickstart-client", "http://127.0.0.1:5555/callback")
	p.Set("code_challenge", strings.Repeat("a", 9<<20))
	resp, err := noFollow.Post(e.as.URL+"/authorize", "application/x-www-form-urlencoded", strings.NewReader(p.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// debug reads a loopback-only debugging endpoint with extra headers.
func (e *env) debug(t *testing.T, path string, h http.Header) observed {
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	for k, vs := range h {
		if k == "Host" {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return observed{status: resp.StatusCode, challenge: "-", accepted: resp.StatusCode == 200}
}
