package expvarmetrics_test

import (
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/expvarmetrics"
)

// Metrics count what the Authenticator reports as its Config.Observer;
// here it is fed by hand.
func Example() {
	m := expvarmetrics.New()
	m.Decision("")
	m.Decision(auth.ReasonExpired)
	m.Verification(40 * time.Microsecond)
	m.TokenCache(true)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/auth/metrics", nil))
	fmt.Println(m.Decisions.String())
	fmt.Println(m.Latency.Get("le_10us"), m.Latency.Get("le_100us"), m.TokenCacheLookups.Get("hit"))
	// Output:
	// {"allowed": 1, "expired": 1}
	// 0 1 1
}
