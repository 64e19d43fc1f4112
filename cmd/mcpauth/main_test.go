package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{nil, {"lint"}, {"doctor"}, {"doctor", "a", "b"}, {"doctor", "--bogus", "x"}} {
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestDoctorExitStatusAndJSON(t *testing.T) {
	unprotected := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	defer unprotected.Close()
	var out, errb bytes.Buffer
	// The URL may come before the flags.
	code := run(context.Background(), []string{"doctor", unprotected.URL + "/mcp", "--json", "--timeout", "5s"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1 for a failing server; stderr %s", code, errb.String())
	}
	var report struct {
		URL    string `json:"url"`
		Checks []struct {
			Name, Status, Fix string
		} `json:"checks"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil || len(report.Checks) == 0 || report.Checks[0].Status != "fail" || report.Checks[0].Fix == "" {
		t.Fatalf("JSON report %s: %v", out.String(), err)
	}
	out.Reset()
	run(context.Background(), []string{"doctor", unprotected.URL + "/mcp"}, &out, &errb)
	if !strings.HasPrefix(out.String(), "mcpauth doctor ") || !strings.Contains(out.String(), "FAIL  401 challenge") {
		t.Fatalf("text report:\n%s", out.String())
	}
}
