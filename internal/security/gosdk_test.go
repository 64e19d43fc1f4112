package security

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// goSDKRows are the operation-level attacks of the catalogue against the
// same notes server built on the official go-sdk (auth/gosdk): every
// guarded operation must be refused before the SDK runs it, however the
// request is shaped, and another subject's session is nobody's.
func goSDKRows() []attack {
	row := func(name string, run func(t *testing.T, e *env) observed, status int, reason, chal string) attack {
		return attack{category: "go-sdk", name: name, run: run, status: status, reason: reason, challenge: chal}
	}
	read := func(e *env) http.Header { return bearerHeader(e.mint(e.gosdkURL, "notes:read", nil)) }
	with := func(h http.Header, kv ...string) http.Header {
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	return []attack{
		row("tools/call of a guarded tool with a token lacking its scope", func(t *testing.T, e *env) observed {
			return e.send(t, e.gosdkURL, "", read(e), toolBody("add_note"))
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("guarded call hidden in a batch (revision 2025-03-26 allows batches)", func(t *testing.T, e *env) observed {
			return e.send(t, e.gosdkURL, "", with(read(e), "Mcp-Protocol-Version", "2025-03-26"), `[`+toolBody("whoami")+`,`+strings.Replace(toolBody("add_note"), `"id":2`, `"id":3`, 1)+`]`)
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("name member repeated in another letter case", func(t *testing.T, e *env) observed {
			return e.send(t, e.gosdkURL, "", read(e), `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","Name":"add_note"}}`)
		}, 400, "request_invalid", "invalid_request"),
		row("name spelled with a JSON escape", func(t *testing.T, e *env) observed {
			return e.send(t, e.gosdkURL, "", read(e), `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add\u005fnote"}}`)
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("Mcp-Name header naming a free tool over a guarded body", func(t *testing.T, e *env) observed {
			return e.send(t, e.gosdkURL, "", with(read(e), "Mcp-Method", "tools/call", "Mcp-Name", "whoami"), toolBody("add_note"))
		}, 400, "header_mismatch", "-"),
		row("Mcp-Name in base64 naming a free tool", func(t *testing.T, e *env) observed {
			enc := "=?base64?" + base64.StdEncoding.EncodeToString([]byte("whoami")) + "?="
			return e.send(t, e.gosdkURL, "", with(read(e), "Mcp-Method", "tools/call", "Mcp-Name", enc), toolBody("add_note"))
		}, 400, "header_mismatch", "-"),
		row("prompts/get of a guarded prompt", func(t *testing.T, e *env) observed {
			return e.send(t, e.gosdkURL, "", read(e), `{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"secret"}}`)
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("resources/read through a guarded template", func(t *testing.T, e *env) observed {
			return e.send(t, e.gosdkURL, "", read(e), `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"notes://private/7"}}`)
		}, 403, "scope_insufficient", "insufficient_scope"),
		row("another subject's session id", func(t *testing.T, e *env) observed {
			e.send(t, e.gosdkURL, "", read(e), initBody)
			if e.lastSession == "" {
				t.Fatal("the go-sdk assigned no session")
			}
			mallory := bearerHeader(e.as.Mint(authtestReq(e.gosdkURL, "mallory")))
			return e.send(t, e.gosdkURL, "", with(mallory, "Mcp-Session-Id", e.lastSession), toolBody("whoami"))
		}, 404, "session_mismatch", "-"),
	}
}
