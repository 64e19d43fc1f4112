// Package metadata implements the two discovery documents of MCP
// authorization: RFC 9728 OAuth 2.0 Protected Resource Metadata, which an MCP
// server publishes, and RFC 8414 OAuth 2.0 Authorization Server Metadata (with
// the OpenID Connect Discovery fields), which clients and resource servers
// fetch.
//
// For most uses, build a [ProtectedResource], serve it with [Handler] at both
// URLs [WellKnownURLs] returns, and find an authorization server's endpoints
// with [Discover].
//
// # Well-known URLs
//
// The well-known suffix is inserted between the host and the path (RFC 9728
// §3.1, RFC 8414 §3.1): the metadata of https://host/public/mcp lives at
// https://host/.well-known/oauth-protected-resource/public/mcp. MCP clients
// try that URL first and then the root one,
// https://host/.well-known/oauth-protected-resource; a server should answer
// both with the same document. [Discover] tries an issuer's URLs in the order
// the MCP specification gives and checks the returned issuer equals the one
// asked for, byte for byte.
package metadata
