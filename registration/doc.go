// Package registration implements the three ways an MCP client becomes known
// to an authorization server, as a library any Go authorization server or
// proxy can use: pre-registered (static) clients, RFC 7591 Dynamic Client
// Registration, and Client ID Metadata Documents (CIMD), plus the
// redirect-URI policy they share.
//
// For most uses, build a [Resolver] from [Static] clients, a DCR [Store] and
// a [CIMDResolver], mount [DCRHandler] at the registration endpoint, and call
// [Resolver.Client] then [Client.MatchRedirect] in the authorization
// endpoint.
//
// # Redirect URIs
//
// Registered redirect URIs must be absolute, without fragment, userinfo or
// wildcard; https, or http on a loopback IP (127.0.0.1, [::1], and localhost
// when [RedirectPolicy.AllowLocalhost] is set), or a custom scheme for native
// apps when [RedirectPolicy.AllowCustomSchemes] is set. Matching is exact,
// except that a loopback redirect matches on any port (RFC 8252 §7.3). A
// mismatch is a [*RedirectMismatchError] that names the part that differs:
// a trailing slash, the port, the scheme, the host's letter case, the host,
// the path or the query.
package registration
