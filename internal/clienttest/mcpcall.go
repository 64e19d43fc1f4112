package clienttest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Credentials sets the Authorization (and, for DPoP, the DPoP) headers of
// one request with method to url; it is called for every request, so a
// DPoP client makes a fresh proof each time.
type Credentials func(h http.Header, method, url string)

// BearerCredentials sends tok as a bearer token.
func BearerCredentials(tok string) Credentials {
	return func(h http.Header, _, _ string) { h.Set("Authorization", "Bearer "+tok) }
}

// DPoPCredentials sends tok with the DPoP scheme and a fresh proof of k
// for each request.
func DPoPCredentials(tok string, k *Key) Credentials {
	return func(h http.Header, method, url string) {
		h.Set("Authorization", "DPoP "+tok)
		h.Set("DPoP", k.Proof(method, url, tok, "", nil))
	}
}

// CallTool opens a Streamable HTTP session at mcpURL (initialize and its
// notification) and calls tool without arguments, as a raw JSON-RPC
// client: for machine clients and DPoP, which the SDKs' OAuth handlers do
// not drive. It returns the HTTP status of the first refused request, or
// 200 and the tool's text.
func CallTool(mcpURL string, creds Credentials, tool string) (int, string, error) {
	var session string
	post := func(body string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, mcpURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		creds(req.Header, http.MethodPost, mcpURL)
		return http.DefaultClient.Do(req)
	}
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"clienttest","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	} {
		resp, err := post(body)
		if err != nil {
			return 0, "", err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return resp.StatusCode, "", nil
		}
		if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
			session = sid
		}
	}
	resp, err := post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(raw), nil
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				raw = []byte(d)
			}
		}
	}
	var out struct {
		Result struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
			IsError bool `json:"isError"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Error != nil || len(out.Result.Content) == 0 {
		return resp.StatusCode, "", fmt.Errorf("tools/call %s answered %s", tool, raw)
	}
	if out.Result.IsError {
		return resp.StatusCode, "", fmt.Errorf("tool %s failed: %s", tool, out.Result.Content[0].Text)
	}
	return resp.StatusCode, out.Result.Content[0].Text, nil
}
