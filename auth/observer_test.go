package auth_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/expvarmetrics"
)

// The Observer hears every decision with its reason, every verification,
// the token cache's hits and misses, and key set fetches with their
// outcome; the expvar Metrics count them.
func TestObserverSeesDecisionsCacheAndKeys(t *testing.T) {
	as := newTestAS(t)
	m := expvarmetrics.New()
	clock := newClock()
	a := newAuth(t, as, func(c *auth.Config) { c.Observer, c.Now = m, clock.Now })
	h := protect(a, echo)
	tok := as.mint("rsa-1", as.claims(resource, "notes:read"), nil)
	call(t, h, bearer(tok)) // miss, first key fetch
	call(t, h, bearer(tok)) // hit
	call(t, h, bearer(as.mint("ec-1", as.claims(resource, "calendar:read"), nil)))
	call(t, h, httptest.NewRequest("POST", resource, nil))

	get := func(m interface{ String() string }, key string) float64 {
		var v map[string]float64
		if err := json.Unmarshal([]byte(m.String()), &v); err != nil {
			t.Fatal(err)
		}
		return v[key]
	}
	for name, got := range map[string][2]float64{
		"allowed":               {get(m.Decisions, "allowed"), 2},
		"scope_insufficient":    {get(m.Decisions, "scope_insufficient"), 1},
		"token_missing":         {get(m.Decisions, "token_missing"), 1},
		"verifications":         {get(m.Latency, "count"), 3},
		"token cache hits":      {get(m.TokenCacheLookups, "hit"), 1},
		"token cache misses":    {get(m.TokenCacheLookups, "miss"), 2},
		"key set fetches ok":    {get(m.KeyRefreshes, "ok"), 1},
		"key set fetches error": {get(m.KeyRefreshes, "error"), 0},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %v, want %v", name, got[0], got[1])
		}
	}
	// A key set that fails is a refresh with an error (once the rate window
	// for unknown kids is open again).
	clock.Advance(11 * time.Second)
	as.SetJWKSFailure(authtest.JWKSError)
	as.newKey(authtest.KeyOptions{KeyID: "unknown", Algorithm: "ES256", Unpublished: true})
	call(t, h, bearer(as.mint("unknown", as.claims(resource, "notes:read"), nil)))
	if got := get(m.KeyRefreshes, "error"); got != 1 {
		t.Errorf("failed key set fetches = %v, want 1", got)
	}
}

// An untrusted issuer's refusal carries the details for errors.As.
func TestIssuerErrorReachable(t *testing.T) {
	as := newTestAS(t)
	a := newAuth(t, as, nil)
	_, err := verify(a, as.mint("rsa-1", claimsWith(as, map[string]any{"iss": as.URL + "/"}), nil))
	var ie *auth.ClaimError
	if !errors.Is(err, auth.ReasonIssuerUntrusted) || !errors.As(err, &ie) || ie.Claim != "iss" || ie.Actual[0] != as.URL+"/" || len(ie.Expected) != 1 || ie.Hint != "trailing_slash" {
		t.Fatalf("err = %v, ClaimError %+v", err, ie)
	}
}
