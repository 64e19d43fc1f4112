package auth_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
)

// A traced response streams as before: the first event reaches the client
// while the handler still runs, and the trace records the status the client
// got as the stream opens, not when it ends.
func TestTracedStreamFlushesAndRecordsOnOpen(t *testing.T) {
	as := newTestAS(t)
	trace := auth.NewTrace(4)
	a := newAuth(t, as, func(c *auth.Config) { c.Trace = trace })
	release := make(chan struct{})
	srv := httptest.NewServer(protect(a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("data: one\n\n"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the wrapper: %v", err)
		}
		<-release
		w.Write([]byte("data: two\n\n"))
	})))
	defer srv.Close()
	defer close(release)

	req, _ := http.NewRequest("GET", srv.URL+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+as.mint("rsa-1", claimsWith(as, nil), nil))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(trace.Decisions()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ds := trace.Decisions()
	if len(ds) != 1 || !ds[0].Allowed || ds[0].Status != 200 || ds[0].HTTPMethod != "GET" {
		t.Fatalf("trace while the stream is open: %+v", ds)
	}
}

// A handler that returns without writing sends net/http's implicit 200,
// and that is what the trace shows.
func TestTraceRecordsImplicitStatus(t *testing.T) {
	as := newTestAS(t)
	trace := auth.NewTrace(4)
	a := newAuth(t, as, func(c *auth.Config) { c.Trace = trace })
	h := protect(a, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	if res := call(t, h, bearer(as.mint("rsa-1", claimsWith(as, nil), nil))); res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	teapot := protect(a, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	call(t, teapot, bearer(as.mint("rsa-1", claimsWith(as, nil), nil)))
	ds := trace.Decisions()
	if len(ds) != 2 || ds[1].Status != 200 || ds[0].Status != http.StatusTeapot || !ds[0].Allowed {
		t.Fatalf("trace: %+v", ds)
	}
}
