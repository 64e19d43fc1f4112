// Package wire holds mcpauth's scanners of untrusted wire formats: JSON
// values (depth, strings), JSON objects split into members (JOSE headers
// and JWT payloads) and JSON-RPC messages (the MCP operations a request
// asks for). Each visits every input byte a bounded number of times, so a
// hostile input costs at most a constant times its size, and fuzz targets
// hold each to encoding/json's answers.
package wire
