package otelmetrics_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/auth/otelmetrics"
)

func Example() {
	as := authtest.Start(authtest.Options{})
	defer as.Close()
	reader := sdkmetric.NewManualReader() // in production: a Prometheus or OTLP exporter
	obs, err := otelmetrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		panic(err)
	}
	const resource = "https://mcp.example.com/mcp"
	a, err := auth.New(context.Background(), auth.Config{
		Tokens:   auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}},
		Resource: resource, BaselineScopes: []string{"notes:read"},
		Observer: obs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	h := a.Protect(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
	r := httptest.NewRequest(http.MethodPost, resource, nil)
	h.ServeHTTP(httptest.NewRecorder(), r) // no token: 401
	r.Header.Set("Authorization", "Bearer "+as.Mint(authtest.TokenRequest{Audience: []string{resource}, Scopes: []string{"notes:read"}}))
	h.ServeHTTP(httptest.NewRecorder(), r)

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "mcpauth.decisions" {
			for _, p := range sum.DataPoints {
				reason, _ := p.Attributes.Value("mcpauth.reason")
				fmt.Println(m.Name, reason.AsString(), p.Value)
			}
		}
	}
	// Unordered output:
	// mcpauth.decisions token_missing 1
	// mcpauth.decisions allowed 1
}
