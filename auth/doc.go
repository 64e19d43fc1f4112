// Package auth makes an HTTP handler, typically an MCP server's, an OAuth 2.1
// protected resource: it publishes RFC 9728 metadata, challenges requests
// without a token, validates bearer tokens, and refuses each bad one with a
// reason an operator can act on. It does not depend on any MCP SDK; package
// auth/mcpgo adds per-tool scopes for mark3labs/mcp-go, package auth/gosdk
// for the official go-sdk.
//
// Call [New] first, once, and wrap the server's handler with
// [Authenticator.Protect] (or let auth/mcpgo or auth/gosdk do it):
//
//	a, err := auth.New(ctx, auth.Config{
//		Resource:       "https://mcp.example.com/mcp",
//		Tokens:         auth.VerifierConfig{Issuers: []auth.Issuer{{URL: "https://auth.example.com"}}},
//		BaselineScopes: []string{"mcp:tools"},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer a.Close()
//	http.ListenAndServe(":8080", a.Protect(mcpHandler, nil))
//
// Handlers read the caller with [TokenFromContext]. With a lookup, Protect
// adds the per-operation scope check for MCP (tools/call, prompts/get,
// resources/read). To decide without writing, call [Authenticator.Check]
// and answer a refusal with [Authenticator.WriteError];
// [Config.ErrorWriter] replaces the answers of the middleware.
// [Config.Trace] and [Config.Observer] record decisions.
//
// # Two layers
//
// A [TokenVerifier] says who a token belongs to and what it grants. The
// [Verifier] ([NewVerifier], configured by a [VerifierConfig]) does it for
// JWTs and RFC 7662 introspection: it owns the trusted issuers, their key
// sets (a [KeySet] per issuer: the issuer's JWKS, fetched and refreshed in
// the background, where an unknown kid causes at most one refresh per
// [VerifierConfig].KeyRefreshMinGap shared by concurrent callers, or keys
// pinned with [NewStaticKeySet]), a bounded token cache that never
// outlives a token's exp, and the claim checks (exp, nbf, iat, audience,
// sub, optionally typ). [Config.Verifier] plugs in another kind of token
// ([TokenVerifierFunc]). The [Authenticator] is the HTTP layer around one
// verifier; a request goes through it in this order (see middleware.go):
// OPTIONS requests and the two metadata paths pass without a token; the
// token is taken from the Authorization header only (in the query or a
// form body, or in two headers, it is 400 invalid_request; none is 401
// with resource_metadata and the baseline scope); the verifier validates
// it (a DPoP-bound token needs the DPoP scheme and a proof of its key,
// see [Config.DPoP] and [DPoPVerifier]) and the baseline scopes are
// checked (403 insufficient_scope); the
// operations of the body are checked against their requirements; the
// session is bound to its subject; the decision is logged, traced and
// observed; and the request goes on with its token.
//
// # Errors
//
// Every refusal is an [*Error] with a stable [Reason], which fixes the HTTP
// status and the RFC 6750 error code; errors.Is(err, auth.ReasonExpired)
// matches by reason, and errors.As reaches details such as [*ClaimError]
// and [*ScopeError]. A key set that cannot be fetched is 503 with
// Retry-After, never a 401 that would send a client into a futile
// re-authorization; so is a custom verifier's failure that is not about
// the token ([ReasonVerifierFailed]). Each refusal is logged once with
// log/slog: reason, status, method, path, the token's fingerprint
// ([Token.Fingerprint]) and the iss and aud it claims, never the token.
package auth
