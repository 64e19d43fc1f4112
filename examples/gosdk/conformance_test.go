//go:build conformance

package main

import (
	"testing"

	"github.com/mcpauth/mcpauth/internal/exampletest"
)

// TestConformance runs the official MCP conformance suite against this
// example: the authorization-server scenarios against its development
// server, and the server scenarios through mcpauth in front of the go-sdk.
// It needs `npm ci` in e2e/conformance (.ci/run does it).
func TestConformance(t *testing.T) {
	exampletest.RunConformance(t, example, exampletest.Conformance{
		Target:           "examples/gosdk (go-sdk)",
		Scenarios:        exampletest.ServerScenarios,
		ExpectedFailures: "expected-failures/gosdk.yaml",
	})
}
