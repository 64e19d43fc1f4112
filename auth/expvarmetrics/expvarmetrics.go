// Package expvarmetrics is an [auth.Observer] on the standard library's
// expvar: decisions by reason, token cache hits, key set refreshes and a
// histogram of verification latency, served as JSON or published under
// /debug/vars. Start with [New] and set it as auth.Config.Observer;
// package auth/otelmetrics does the same for OpenTelemetry.
package expvarmetrics

import (
	"expvar"
	"net/http"
	"time"

	"github.com/mcpauth/mcpauth/auth"
)

// Metrics is the expvar [auth.Observer]: it counts decisions by reason,
// token cache hits and key set refreshes, and keeps a histogram of
// verification latency. Set it as auth.Config.Observer; serve it with its
// ServeHTTP (behind [auth.LoopbackOnly]), or add it to /debug/vars with
// Publish.
type Metrics struct {
	// Decisions counts decisions: "allowed", and each refusal [Reason].
	Decisions *expvar.Map
	// Latency is a cumulative histogram of token verification time: counts
	// of verifications at or under each bound ("le_1us" ... "le_1s", "le_inf"),
	// "count" and "sum_ns".
	Latency *expvar.Map
	// TokenCacheLookups counts "hit" and "miss".
	TokenCacheLookups *expvar.Map
	// KeyRefreshes counts key set fetches: "ok" and "error".
	KeyRefreshes *expvar.Map
}

var latencyBounds = []struct {
	name string
	d    time.Duration
}{
	{"le_1us", time.Microsecond}, {"le_10us", 10 * time.Microsecond}, {"le_100us", 100 * time.Microsecond},
	{"le_1ms", time.Millisecond}, {"le_10ms", 10 * time.Millisecond}, {"le_100ms", 100 * time.Millisecond},
	{"le_1s", time.Second},
}

// New returns empty Metrics.
func New() *Metrics {
	m := &Metrics{Decisions: new(expvar.Map).Init(), Latency: new(expvar.Map).Init(), TokenCacheLookups: new(expvar.Map).Init(), KeyRefreshes: new(expvar.Map).Init()}
	for _, b := range latencyBounds {
		m.Latency.Add(b.name, 0)
	}
	for _, k := range []string{"le_inf", "count", "sum_ns"} {
		m.Latency.Add(k, 0)
	}
	m.TokenCacheLookups.Add("hit", 0)
	m.TokenCacheLookups.Add("miss", 0)
	m.KeyRefreshes.Add("ok", 0)
	m.KeyRefreshes.Add("error", 0)
	return m
}

// Publish adds the metrics to expvar's /debug/vars as name+"_decisions",
// name+"_verify_latency", name+"_token_cache" and name+"_key_refreshes".
// Like expvar.Publish, it panics on a name in use.
func (m *Metrics) Publish(name string) {
	expvar.Publish(name+"_decisions", m.Decisions)
	expvar.Publish(name+"_verify_latency", m.Latency)
	expvar.Publish(name+"_token_cache", m.TokenCacheLookups)
	expvar.Publish(name+"_key_refreshes", m.KeyRefreshes)
}

// Decision counts a decision under its reason, or "allowed".
func (m *Metrics) Decision(reason auth.Reason) {
	if reason == "" {
		m.Decisions.Add("allowed", 1)
		return
	}
	m.Decisions.Add(string(reason), 1)
}

// Verification adds d to the latency histogram.
func (m *Metrics) Verification(d time.Duration) {
	for _, b := range latencyBounds {
		if d <= b.d {
			m.Latency.Add(b.name, 1)
		}
	}
	m.Latency.Add("le_inf", 1)
	m.Latency.Add("count", 1)
	m.Latency.Add("sum_ns", int64(d))
}

// TokenCache counts a hit or a miss.
func (m *Metrics) TokenCache(hit bool) {
	if hit {
		m.TokenCacheLookups.Add("hit", 1)
	} else {
		m.TokenCacheLookups.Add("miss", 1)
	}
}

// KeyRefresh counts a key set fetch.
func (m *Metrics) KeyRefresh(_ string, err error) {
	if err != nil {
		m.KeyRefreshes.Add("error", 1)
	} else {
		m.KeyRefreshes.Add("ok", 1)
	}
}

// ServeHTTP serves the maps as one JSON object.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"decisions":` + m.Decisions.String() + `,"verify_latency":` + m.Latency.String() +
		`,"token_cache":` + m.TokenCacheLookups.String() + `,"key_refreshes":` + m.KeyRefreshes.String() + "}\n"))
}
