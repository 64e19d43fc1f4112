//go:build tsclients

package main

import (
	"testing"

	"github.com/mcpauth/mcpauth/internal/exampletest"
)

// TestTypeScriptClients runs the TypeScript SDK clients against this
// example; it needs Node 20 and `npm ci` in e2e/tsclients (.ci/run does both).
func TestTypeScriptClients(t *testing.T) {
	exampletest.TypeScriptClients(t, example, exampletest.TS{Modern: true, DevServer: true})
}
