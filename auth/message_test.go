package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/auth"
)

// A refusal's message says each thing once: the log line of an audience
// mismatch is not "audience X is not Y: audience X is not Y".
func TestErrorSaysItsCauseOnce(t *testing.T) {
	ae := &auth.ClaimError{Claim: "aud", Expected: []string{"https://a/mcp"}, Actual: []string{"https://b/mcp"}}
	e := &auth.Error{Reason: auth.ReasonAudienceMismatch, Description: ae.Error(), Err: ae}
	if got := e.Error(); strings.Count(got, ae.Error()) != 1 {
		t.Fatalf("%q", got)
	}
	cause := errors.New("dial tcp: connection refused")
	e = &auth.Error{Reason: auth.ReasonKeysetUnavailable, Description: "the key set of issuer https://as cannot be fetched", Err: cause}
	if got := e.Error(); !strings.Contains(got, "connection refused") || !strings.Contains(got, "cannot be fetched") {
		t.Fatalf("a distinct cause is kept: %q", got)
	}
}
