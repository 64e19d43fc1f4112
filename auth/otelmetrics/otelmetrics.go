// Package otelmetrics reports what mcpauth measures as OpenTelemetry
// metrics: an [auth.Observer] for [auth.Config.Observer]. Export them with
// any OpenTelemetry exporter; with go.opentelemetry.io/otel/exporters/prometheus
// they are scraped from /metrics (see examples/metrics). Only programs that
// import this package compile OpenTelemetry. Call [New] with a
// MeterProvider and set the result as auth.Config.Observer.
//
// The instruments:
//
//	mcpauth.decisions              counter   decisions, by mcpauth.reason ("allowed" or a refusal reason)
//	mcpauth.verification.duration  histogram seconds to validate a bearer token, cache hits included
//	mcpauth.token_cache.lookups    counter   token cache lookups, by mcpauth.result ("hit", "miss")
//	mcpauth.key_refreshes          counter   key set fetches, by mcpauth.issuer and mcpauth.outcome ("ok", "error")
//
// In Prometheus they appear as mcpauth_decisions_total,
// mcpauth_verification_duration_seconds, mcpauth_token_cache_lookups_total
// and mcpauth_key_refreshes_total.
package otelmetrics

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/mcpauth/mcpauth/auth"
)

// Observer records mcpauth's measurements with OpenTelemetry instruments.
// It is safe for concurrent use.
type Observer struct {
	decisions metric.Int64Counter
	latency   metric.Float64Histogram
	lookups   metric.Int64Counter
	refreshes metric.Int64Counter

	// Attribute sets are built once, as option slices passed on whole, so
	// that the request path allocates nothing for them.
	reasons sync.Map // auth.Reason -> []metric.AddOption
	hit     []metric.AddOption
	miss    []metric.AddOption
	allowed []metric.AddOption
	issuers sync.Map // outcome and issuer -> []metric.AddOption; issuers are configured, so few
}

// attrs is the option slice of one attribute set.
func attrs(kv ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

// New returns an Observer whose instruments come from mp's meter
// "github.com/mcpauth/mcpauth".
func New(mp metric.MeterProvider) (*Observer, error) {
	m := mp.Meter("github.com/mcpauth/mcpauth")
	o := &Observer{
		hit:     attrs(attribute.String("mcpauth.result", "hit")),
		miss:    attrs(attribute.String("mcpauth.result", "miss")),
		allowed: attrs(attribute.String("mcpauth.reason", "allowed")),
	}
	var err error
	if o.decisions, err = m.Int64Counter("mcpauth.decisions", metric.WithDescription("Authorization decisions, by reason."), metric.WithUnit("{decision}")); err != nil {
		return nil, err
	}
	if o.latency, err = m.Float64Histogram("mcpauth.verification.duration", metric.WithDescription("Time to validate a bearer token, cache hits included."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 0.1, 1)); err != nil {
		return nil, err
	}
	if o.lookups, err = m.Int64Counter("mcpauth.token_cache.lookups", metric.WithDescription("Validated-token cache lookups, by result."), metric.WithUnit("{lookup}")); err != nil {
		return nil, err
	}
	if o.refreshes, err = m.Int64Counter("mcpauth.key_refreshes", metric.WithDescription("Key set fetches, by issuer and outcome."), metric.WithUnit("{fetch}")); err != nil {
		return nil, err
	}
	return o, nil
}

var _ auth.Observer = (*Observer)(nil)

// Decision counts a decision under its reason, or "allowed".
func (o *Observer) Decision(reason auth.Reason) {
	if reason == "" {
		o.decisions.Add(context.Background(), 1, o.allowed...)
		return
	}
	opts, ok := o.reasons.Load(reason)
	if !ok { // reasons are a fixed set: this runs once per reason
		opts, _ = o.reasons.LoadOrStore(reason, attrs(attribute.String("mcpauth.reason", string(reason))))
	}
	o.decisions.Add(context.Background(), 1, opts.([]metric.AddOption)...)
}

// Verification records d in the duration histogram.
func (o *Observer) Verification(d time.Duration) {
	o.latency.Record(context.Background(), d.Seconds())
}

// TokenCache counts a hit or a miss.
func (o *Observer) TokenCache(hit bool) {
	if hit {
		o.lookups.Add(context.Background(), 1, o.hit...)
	} else {
		o.lookups.Add(context.Background(), 1, o.miss...)
	}
}

// KeyRefresh counts a key set fetch under its issuer and outcome.
func (o *Observer) KeyRefresh(issuer string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	key := outcome + " " + issuer
	opts, ok := o.issuers.Load(key)
	if !ok {
		opts, _ = o.issuers.LoadOrStore(key, attrs(attribute.String("mcpauth.issuer", issuer), attribute.String("mcpauth.outcome", outcome)))
	}
	o.refreshes.Add(context.Background(), 1, opts.([]metric.AddOption)...)
}
