// Package auth makes an HTTP handler, typically an MCP server's, an OAuth 2.1
// protected resource: it publishes RFC 9728 metadata, challenges requests
// without a token, validates bearer tokens, and refuses each bad one with a
// reason an operator can act on. It does not depend on any MCP SDK; package
// auth/mcpgo adds per-tool scopes for mark3labs/mcp-go.
//
// For most uses, call [New] once and wrap the server's handler with
// [Authenticator.Handler]:
//
//	a, err := auth.New(ctx, auth.Config{
//		Resource:       "https://mcp.example.com/mcp",
//		Issuers:        []auth.Issuer{{URL: "https://auth.example.com"}},
//		BaselineScopes: []string{"mcp:tools"},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer a.Close()
//	http.ListenAndServe(":8080", a.Handler(mcpHandler))
//
// Handlers read the caller with [TokenFromContext]. [Authenticator.Protect]
// adds the per-operation scope check for MCP (tools/call, prompts/get,
// resources/read) and session binding; package auth/mcpgo wires it to
// mark3labs/mcp-go. [Config.Trace] and [Config.Metrics] record decisions for
// debugging.
//
// # One request
//
// OPTIONS requests and the two metadata paths pass without a token. The token
// is taken from the Authorization header only ([BearerToken]); a token in the
// query or a form body, or two Authorization headers, is 400
// invalid_request; none is 401 with resource_metadata and the baseline scope.
// [Authenticator.Verify] answers a token seen before from a cache that never
// outlives its exp. Otherwise the unverified iss picks a trusted issuer, the
// signature is checked with that issuer's key (jwx verifiers over a
// jwk.Cache with background refresh; an unknown kid causes at most one
// refresh per [Config.KeyRefreshMinGap], shared by concurrent callers), then
// exp, nbf, iat, audience, sub and, optionally, typ. Opaque tokens go to
// RFC 7662 introspection when configured. Scopes are read and normalized by
// package scopes and the baseline scopes checked (403 insufficient_scope).
//
// # Errors
//
// Every refusal is an [*Error] with a stable [Reason], which fixes the HTTP
// status and the RFC 6750 error code; errors.Is works against the sentinels
// ([ErrExpired], [ErrAudienceMismatch], ...) and errors.As reaches details
// such as [*AudienceError] and [*ScopeError]. A key set that cannot be
// fetched is 503 with Retry-After, never a 401 that would send a client into
// a futile re-authorization. [Authenticator.Check] makes the decision and
// [Authenticator.WriteError] the response, so callers can answer differently.
// Each refusal is logged once with log/slog: reason, status, method, path,
// the token's [Fingerprint] and the iss and aud it claims, never the token.
package auth
