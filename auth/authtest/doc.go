// Package authtest is an OAuth 2.1 authorization server that runs in-process,
// for tests and local development only: it keeps everything in memory, signs
// with keys it generates at start, and approves on a single click (or
// automatically). Do not use it in production.
//
// For most uses in tests, call [Start] (it listens on loopback, like
// net/http/httptest) and point an MCP server's auth.Config at its URL:
//
//	as := authtest.Start(authtest.Options{AutoApprove: true})
//	defer as.Close()
//	a, _ := auth.New(ctx, auth.Config{Resource: mcpURL, Tokens: auth.VerifierConfig{Issuers: []auth.Issuer{{URL: as.URL}}}})
//	token := as.Mint(authtest.TokenRequest{Audience: []string{mcpURL}, Scopes: []string{"notes:read"}})
//
// It follows the specifications real MCP clients rely on: RFC 8414 and
// OpenID Connect metadata (S256 PKCE, registration endpoint, Client ID
// Metadata Documents, RFC 9207 iss), a JWKS, /authorize with PKCE S256 only
// and RFC 8707 resource indicators that become the token audience, /token
// (authorization_code, refresh_token with rotation and reuse detection,
// client_credentials; client authentication none, client_secret_basic and
// client_secret_post), /register (RFC 7591), and RFC 9068 JWT access tokens.
// Its controls reproduce what goes wrong with real servers: rotate keys, make
// the JWKS fail or stall, drop unknown scopes silently, and shape the scope
// claim like Entra or Okta (scp).
package authtest
