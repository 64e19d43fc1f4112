//go:build tsclients

package main

import (
	"testing"

	"github.com/mcpauth/mcpauth/internal/exampletest"
)

// TestTypeScriptClients runs the TypeScript SDK clients through the proxy.
func TestTypeScriptClients(t *testing.T) {
	exampletest.TypeScriptClients(t, example, exampletest.TS{Modern: true})
}
