// Package security holds mcpauth's hostile-input catalogue and its fault and
// soak tests. It has no code of its own: its tests build a protected MCP
// server, an authorization server and registration endpoints, throw every
// attack in the catalogue at them, and render the results into SECURITY.md
// (go test ./internal/security -run TestCatalogue -update).
package security
