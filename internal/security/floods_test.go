package security

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/internal/clienttest"
)

// exampleProcess is an example's server running as its own process, as an
// operator runs it.
type exampleProcess struct {
	cmd           *exec.Cmd
	mcpURL, asURL string
}

// startExample builds examples/<name> and runs it on free loopback ports.
func startExample(t *testing.T, name string) *exampleProcess {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	build := exec.Command("go", "build", "-o", bin, "./examples/"+name)
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-auth-addr", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ex := &exampleProcess{cmd: cmd}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && (ex.mcpURL == "" || ex.asURL == "") {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "MCP server:"); ok {
			ex.mcpURL = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "authorization server:"); ok {
			ex.asURL = strings.Fields(v)[0]
		}
	}
	go io.Copy(io.Discard, stdout)
	if ex.mcpURL == "" || ex.asURL == "" {
		t.Fatalf("the example's banner did not name its URLs")
	}
	return ex
}

// rssMB is the process's resident set, as ps and top show it.
func (ex *exampleProcess) rssMB(t *testing.T) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", ex.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// token gets a token for scope with the pre-registered client.
func (ex *exampleProcess) token(t *testing.T, scope string) string {
	tok, err := clienttest.ClientCredentials(ex.asURL, "quickstart-client", "quickstart-secret", scope, ex.mcpURL)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// flood sends n requests made by req, `parallel` at a time, and counts
// the statuses.
func flood(t *testing.T, n, parallel int, req func() *http.Request) map[int]int {
	var mu sync.Mutex
	statuses := map[int]int{}
	work := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: parallel}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	for range parallel {
		wg.Go(func() {
			for range work {
				resp, err := client.Do(req())
				if err != nil {
					mu.Lock()
					statuses[-1]++
					mu.Unlock()
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	return statuses
}

// Floods of requests with a valid token against the examples' servers, run
// as their own processes and measured as an operator would (VmRSS): 20,000
// initialize requests from one subject (past its session budget), then 300
// requests with a 1 MB Mcp-Session-Id. Memory stays flat: at most 64 MB
// growth for both.
func TestFloodsKeepMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the examples and floods them for a while; .ci/run runs it")
	}
	for _, name := range []string{"quickstart", "gosdk"} {
		t.Run(name, func(t *testing.T) {
			ex := startExample(t, name)
			tok := ex.token(t, "notes:read")
			post := func(sid, body string) *http.Request {
				req, _ := http.NewRequestWithContext(context.Background(), "POST", ex.mcpURL, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
				if sid != "" {
					req.Header.Set("Mcp-Session-Id", sid)
				}
				return req
			}
			// Warm up: a few sessions, so the baseline holds what any use holds.
			flood(t, 50, 2, func() *http.Request { return post("", initBody) })
			base := ex.rssMB(t)
			got := flood(t, 20_000, 8, func() *http.Request { return post("", initBody) })
			afterInit := ex.rssMB(t)
			t.Logf("20,000 initialize with one token: %v; RSS %.0f -> %.0f MB", got, base, afterInit)
			if got[200] != 50 || got[503] != 20_000-50 {
				t.Errorf("the subject's 100 sessions (50 taken in the warm-up) should be the only ones: %v", got)
			}
			big := strings.Repeat("a", 1<<20) // refused by the server (431, MaxHeaderBytes) or by mcpauth (400)
			got = flood(t, 300, 2, func() *http.Request { return post(big, toolBody("whoami")) })
			afterIDs := ex.rssMB(t)
			t.Logf("300 requests with a 1 MB session id: %v; RSS %.0f -> %.0f MB", got, afterInit, afterIDs)
			if got[400]+got[431] != 300 {
				t.Errorf("1 MB session ids must be refused: %v", got)
			}
			if growth := afterIDs - base; growth > 64 {
				t.Errorf("RSS grew %.0f MB (%.0f -> %.0f), more than 64 MB", growth, base, afterIDs)
			}
		})
	}
}
