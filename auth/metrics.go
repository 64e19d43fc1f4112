package auth

import (
	"expvar"
	"net/http"
	"time"
)

// Observer receives what mcpauth measures, to export it as metrics. The
// middleware and the [Verifier] call it on the request path, so an
// implementation must be safe for concurrent use and quick. [Metrics]
// implements it with expvar; package auth/otelmetrics with OpenTelemetry.
// Without one ([Config.Observer] nil), nothing is measured and nothing is
// spent.
type Observer interface {
	// Decision reports one authorization decision: reason "" when the
	// request was allowed.
	Decision(reason Reason)
	// Verification reports how long validating a bearer token took, cache
	// hits included.
	Verification(d time.Duration)
	// TokenCache reports whether the verifier's token cache knew a token.
	TokenCache(hit bool)
	// KeyRefresh reports a fetch of an issuer's key set and its error;
	// issuer is "" for a failed background refresh, which jwx reports
	// without its URL.
	KeyRefresh(issuer string, err error)
}

// Metrics is the expvar [Observer]: it counts decisions by reason, token
// cache hits and key set refreshes, and keeps a histogram of verification
// latency. Set it as [Config.Observer]; serve it with its ServeHTTP (behind
// [LoopbackOnly]), or add it to /debug/vars with Publish.
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

// NewMetrics returns empty Metrics.
func NewMetrics() *Metrics {
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
func (m *Metrics) Decision(reason Reason) {
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
