package otelmetrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/expvarmetrics"
	"github.com/mcpauth/mcpauth/auth/otelmetrics"
)

const resource = "https://mcp.example.com/mcp"

// setup runs an Authenticator reporting to an OpenTelemetry SDK whose
// metrics the test reads with a manual reader.
func setup(t testing.TB, withObserver bool) (*authtest.Server, http.Handler, *sdkmetric.ManualReader) {
	as := authtest.Start(authtest.Options{KeyAlgorithm: "ES256"})
	t.Cleanup(as.Close)
	reader := sdkmetric.NewManualReader()
	cfg := auth.Config{
		Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}, Resource: resource, BaselineScopes: []string{"notes:read"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if withObserver {
		o, err := otelmetrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Observer = o
	}
	a, err := auth.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return as, a.Protect(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil), reader
}

func request(as *authtest.Server, scopes ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, resource, nil)
	if scopes != nil {
		r.Header.Set("Authorization", "Bearer "+as.Mint(authtest.TokenRequest{Audience: []string{resource}, Scopes: scopes}))
	}
	return r
}

// sums returns each counter's data points as "attribute value" -> sum.
func sums(t *testing.T, reader *sdkmetric.ManualReader) (map[string]map[string]int64, map[string]uint64) {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counters, histograms := map[string]map[string]int64{}, map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				counters[m.Name] = map[string]int64{}
				for _, p := range d.DataPoints {
					key := ""
					for _, kv := range p.Attributes.ToSlice() {
						key += kv.Value.AsString() + " "
					}
					counters[m.Name][key] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					histograms[m.Name] += p.Count
				}
			}
		}
	}
	return counters, histograms
}

func TestInstruments(t *testing.T) {
	as, h, reader := setup(t, true)
	ok := request(as, "notes:read")
	for _, r := range []*http.Request{ok, ok, request(as, "calendar:read"), request(as)} {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	counters, histograms := sums(t, reader)
	want := map[string]map[string]int64{
		"mcpauth.decisions":           {"allowed ": 2, "scope_insufficient ": 1, "token_missing ": 1},
		"mcpauth.token_cache.lookups": {"hit ": 1, "miss ": 2},
		"mcpauth.key_refreshes":       {as.URL + " ok ": 1},
	}
	for name, points := range want {
		for k, v := range points {
			if counters[name][k] != v {
				t.Errorf("%s{%s} = %d, want %d (all: %v)", name, k, counters[name][k], v, counters[name])
			}
		}
	}
	if histograms["mcpauth.verification.duration"] != 3 {
		t.Errorf("verification durations recorded: %d, want 3", histograms["mcpauth.verification.duration"])
	}
}

// BenchmarkCachedRequest compares a request with a cached token without an
// Observer, with the expvar one and with this one: what the hot path pays
// for metrics.
func BenchmarkCachedRequest(b *testing.B) {
	for _, v := range []struct {
		name string
		obs  func() auth.Observer
	}{
		{"none", nil},
		{"expvar", func() auth.Observer { return expvarmetrics.New() }},
		{"otel", nil},
	} {
		b.Run(v.name, func(b *testing.B) {
			as, h, _ := setup(b, v.name == "otel")
			if v.obs != nil {
				a, err := auth.New(context.Background(), auth.Config{Resource: resource, BaselineScopes: []string{"notes:read"}, Observer: v.obs(), Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}})
				if err != nil {
					b.Fatal(err)
				}
				defer a.Close()
				h = a.Protect(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
			}
			r := request(as, "notes:read")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
