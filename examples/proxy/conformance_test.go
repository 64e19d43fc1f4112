//go:build conformance

package main

import (
	"testing"

	"github.com/mcpauth/mcpauth/internal/exampletest"
)

// TestConformance runs the official MCP conformance suite's
// authorization-server scenarios against the proxy (consent pages on, the
// development upstream's too). It needs `npm ci` in e2e/conformance
// (.ci/run does it).
func TestConformance(t *testing.T) {
	exampletest.RunConformance(t, example, exampletest.Conformance{Target: "examples/proxy (authorization proxy)"})
}
