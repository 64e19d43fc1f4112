package auth

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/mcpauth/mcpauth/scopes"
)

// Config configures an [Authenticator]: the HTTP side of a protected
// resource (metadata, challenges, scopes, sessions, observability) and the
// verifier it holds, either built from Tokens or given as Verifier. The
// zero value of every optional field is a safe default; Resource and a way
// to verify tokens are required, and [New] refuses anything missing or
// insecure rather than falling back to something permissive.
type Config struct {
	// Resource is the canonical public URL of the MCP endpoint, e.g.
	// "https://mcp.example.com/mcp": the RFC 9728 resource identifier and the
	// default audience. It is never derived from a request's Host header. A
	// trailing slash is dropped; scheme and host are lowercased. Required.
	Resource string

	// Tokens says how access tokens are verified: New builds a [*Verifier]
	// from it. Its Audiences default to Resource; its Scopes, Observer, Now
	// and InsecureAllowHTTP, when unset, are this Config's. Set Tokens or
	// Verifier, not both.
	Tokens VerifierConfig

	// Verifier, when set, validates tokens instead of a verifier built from
	// Tokens: a [*Verifier] you hold, or your own [TokenVerifier] for tokens
	// that are neither JWTs nor introspectable (API keys, a provider's own
	// opaque tokens). AuthorizationServers is then required, and tokens
	// over 16 KiB are refused before it sees them.
	Verifier TokenVerifier

	// AuthorizationServers is what the protected resource metadata advertises
	// in authorization_servers. Empty means the URLs of Tokens.Issuers (and
	// the introspection issuer). Set it when clients must discover an
	// authorization server whose metadata URL differs from the iss its
	// tokens carry (a facade or a per-resource URL).
	AuthorizationServers []string

	// Scopes reads and compares scopes: implications and aliases decide
	// whether granted scopes satisfy a requirement. Nil means
	// scopes.Config{} (strict RFC 6749, claims scope, scp, scopes,
	// permissions).
	Scopes *scopes.Normalizer

	// BaselineScopes are required of every request. A token without them gets
	// 403 insufficient_scope, and the 401 challenge asks for them.
	BaselineScopes []string

	// ScopesSupported, when set, is exactly the scopes_supported of the
	// protected resource metadata. Empty means BaselineScopes plus every
	// scope a tool, prompt or resource requires, which the SDK adapters
	// (auth/mcpgo, auth/gosdk) add as the items are declared. offline_access
	// is never advertised, and each value must be a valid scope token (New
	// refuses others).
	ScopesSupported []string

	// ChallengeScopes chooses what a 403 insufficient_scope challenge asks
	// for. The zero value is ScopesByRevision: only what the operation needs
	// for clients of MCP 2026-07-28 and later, the granted scopes plus those
	// for earlier ones.
	ChallengeScopes ChallengeScopes

	// AnonymousDiscovery answers, without a token, requests made only of
	// discovery methods (initialize, notifications/initialized, ping,
	// server/discover, tools/list, prompts/list, resources/list,
	// resources/templates/list), for servers that want to be browsable
	// before sign-in; every other request, tools/call, prompts/get and
	// resources/read among them, still needs a token, and the first one
	// without gets the 401 and its challenge, so clients sign in then. Such
	// sessions belong to the caller's source (AnonymousSource) within the
	// session bounds, and become the subject's at its first request with a
	// token. Listings filtered by HideUnauthorized show an anonymous caller
	// only what needs no scope. Off by default.
	AnonymousDiscovery bool

	// AnonymousSource names where a request without a token comes from,
	// whose sessions share one subject's bounds. Nil means the remote IP
	// address (an IPv6 address by its /64); behind a reverse proxy, return
	// the client address it vouches for.
	AnonymousSource func(*http.Request) string

	// DPoP, when set, accepts DPoP-bound access tokens (RFC 9449) with the
	// DPoP scheme and a proof of the bound key on every request, beside
	// bearer tokens unless DPoP.Required; the metadata advertises the proof
	// algorithms. Without it, DPoP-bound tokens are refused (their binding
	// could not be checked) and bearer tokens work as before.
	DPoP *DPoPConfig

	// ResourceName is the human-readable name in the metadata.
	ResourceName string

	// ResourceDocumentation is a URL of documentation in the metadata.
	ResourceDocumentation string

	// ErrorWriter, when set, answers every refusal instead of
	// [Authenticator.WriteError], after the refusal was logged and
	// observed: to answer some reasons your own way (a sign-in page for a
	// browser), or to add headers. Call the Authenticator's WriteError from
	// it for the standard answer; MCP clients need its WWW-Authenticate
	// challenge to sign in and to step up.
	ErrorWriter func(w http.ResponseWriter, r *http.Request, err *Error)

	// Trace, when set, records every decision (see [Trace]).
	Trace *Trace

	// Observer, when set, receives decisions, verification latencies, token
	// cache hits and key set refreshes: package auth/expvarmetrics for
	// expvar, or package auth/otelmetrics for OpenTelemetry (and
	// Prometheus).
	Observer Observer

	// Logger receives one record per refused request. Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// MaxBodyBytes bounds the JSON-RPC body read to find the MCP operation
	// (see [Authenticator.Protect]); a longer body is refused with 413. Zero
	// means 4 MiB.
	MaxBodyBytes int64

	// MaxJSONDepth refuses (400) a body whose JSON nests arrays and objects
	// deeper than this, before the MCP SDK decodes it: decoders that recurse
	// cost more than linear time in the depth (the go-sdk's about 4 s of CPU
	// for 1 MiB nested 900 deep), while mcpauth's scan of the body is
	// linear. Checked wherever the body is read ([Authenticator.Protect]
	// with a lookup, as both SDK adapters use it). Zero means 64.
	MaxJSONDepth int

	// SessionIdleTimeout is how long a binding of an MCP session to its
	// subject lives without use; a session with a request in flight (an open
	// stream) is in use. When a binding idles out, its session is ended in
	// the MCP server too (a DELETE through the handler), so no session lives
	// on unbound. Set the MCP server's own idle timeout to the same value
	// (mcpgo.TransportOptions, gosdk.HandlerOptions). Zero means 1 hour.
	SessionIdleTimeout time.Duration

	// MaxSessions bounds the bound sessions. When it is reached, a subject
	// holding more sessions than the one asking loses its oldest idle
	// session (ended in the MCP server too), so a few subjects cannot lock
	// everyone else out; when no subject holds more, requests that would
	// create another session get 503 until some idle out or are closed. An
	// initialize is refused before the MCP server creates anything. Zero
	// means 10,000.
	MaxSessions int

	// MaxSessionsPerSubject bounds the sessions one subject (issuer and
	// sub) may hold, so one caller cannot take them all. Zero means 100.
	MaxSessionsPerSubject int

	// InsecureAllowHTTP permits a plain http Resource (and, through Tokens,
	// issuer, key set and introspection URLs) on non-loopback hosts. Only
	// for tests on private networks: tokens and keys travel unprotected.
	// Loopback http is always allowed.
	InsecureAllowHTTP bool
}

// VerifierConfig configures a [Verifier]: which tokens it accepts and how
// it finds their keys. Issuers (or Introspection) and Audiences are
// required; the zero value of every other field is a safe default.
type VerifierConfig struct {
	// Issuers are the trusted authorization servers. A token's iss must equal
	// one of them byte for byte. Several issuers serve multi-tenant setups;
	// each has its own key set.
	Issuers []Issuer

	// Audiences lists the aud values accepted from every issuer: the
	// resource's canonical URL, usually. Comparison is exact. Required,
	// except inside [Config.Tokens], where empty means Config.Resource.
	Audiences []string

	// AllowAudienceTrailingSlash also accepts each audience with a trailing
	// slash added or removed. Off by default: RFC 8707 resource indicators are
	// compared as strings.
	AllowAudienceTrailingSlash bool

	// Leeway is the clock skew tolerated for exp, nbf and iat. Zero means 30
	// seconds; a negative value means none.
	Leeway time.Duration

	// Algorithms is the allowlist of JWS algorithms. Empty means RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA. "none" and the
	// HMAC algorithms are refused even if listed: a resource server verifies
	// with public keys only.
	Algorithms []string

	// RequireJWTAccessTokenType requires the JOSE header typ to be "at+jwt"
	// (RFC 9068 §2.1). Off by default because Entra, Auth0's default profile,
	// Keycloak and others send "JWT" or nothing.
	RequireJWTAccessTokenType bool

	// Type, when set, is the JOSE header typ every token must carry
	// (compared ignoring case and an "application/" prefix), for verifying
	// JWTs of another profile than access tokens: "oauth-id-jag+jwt" for
	// the identity assertions the proxy redeems. RequireJWTAccessTokenType
	// is Type "at+jwt"; set one of them.
	Type string

	// Scopes reads and normalizes granted scopes. Nil means
	// scopes.Config{} (strict RFC 6749, claims scope, scp, scopes, permissions).
	Scopes *scopes.Normalizer

	// Introspection enables RFC 7662 introspection for tokens that are not
	// JWTs (opaque tokens).
	Introspection *Introspection

	// HTTPClient fetches metadata, key sets and introspection responses. Nil
	// means a client with a 10 second timeout. Responses are size-capped
	// whatever the client.
	HTTPClient *http.Client

	// LazyDiscovery lets NewVerifier return while an issuer's metadata (for
	// its jwks_uri) cannot be discovered yet, instead of failing: under
	// compose or Kubernetes the authorization server may start after the
	// MCP server, and a constructor that fails makes a crash loop. Discovery
	// is retried in the background (after 1 s, then twice as late each
	// time, at most a minute apart); until it succeeds, tokens of that
	// issuer get 503 keyset_unavailable with Retry-After, never a 401 that
	// would send the client to sign in again. Failed attempts reach the
	// Observer's KeyRefresh. Issuers with a JWKSURL or Keys need no
	// discovery. Off by default: NewVerifier then fails at once, naming each
	// URL it tried.
	LazyDiscovery bool

	// Observer, when set, receives token cache hits and key set refreshes.
	Observer Observer

	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// MaxTokenBytes refuses longer tokens before parsing. Zero means 16 KiB.
	MaxTokenBytes int

	// TokenCacheTTL bounds how long a validated token is remembered, so a
	// repeated token costs no signature check. An entry never outlives the
	// token's exp. Zero means 5 minutes; negative disables the cache.
	TokenCacheTTL time.Duration

	// KeyRefreshInterval is how often fetched key sets are refreshed in the
	// background. Zero means 15 minutes.
	KeyRefreshInterval time.Duration

	// KeyRefreshMinGap is the rate window for refreshes caused by an unknown
	// kid: at most one such refresh per issuer per window, shared by all
	// concurrent callers; a 503 while keys cannot be fetched asks clients to
	// retry after it. Zero means 10 seconds.
	KeyRefreshMinGap time.Duration

	// InsecureAllowHTTP permits plain http issuer, key set and introspection
	// URLs on non-loopback hosts. Only for tests on private networks.
	InsecureAllowHTTP bool
}

// Issuer is one trusted authorization server.
type Issuer struct {
	// URL is the issuer identifier exactly as the tokens' iss and the server's
	// metadata state it, trailing slash included (Auth0's has one).
	URL string

	// JWKSURL is the server's key set. Empty means discover it from the
	// server's metadata (RFC 8414 / OpenID Connect) in [NewVerifier].
	JWKSURL string

	// Keys, when set, are the issuer's keys, and JWKSURL is not used: keys
	// pinned in configuration ([NewStaticKeySet]) or your own [KeySet].
	Keys KeySet

	// Audiences are extra aud values accepted from this issuer only, e.g. the
	// application (client) ID GUID that Entra v2 tokens carry as aud.
	Audiences []string
}

// Introspection configures RFC 7662 token introspection. An active response
// is checked like a JWT's claims: it must carry exp, sub and an aud this
// server accepts, and an iss, when present, must be trusted.
type Introspection struct {
	// Endpoint is the introspection URL. Required.
	Endpoint string
	// ClientID and ClientSecret authenticate this server to the endpoint with
	// HTTP Basic (client_secret_basic).
	ClientID, ClientSecret string
	// Issuer is recorded as the issuer of introspected tokens whose response
	// has no iss. If the response has an iss, it must be a trusted issuer.
	Issuer string
	// CacheTTL bounds how long an active result is reused. Zero means 1
	// minute. An entry never outlives the token's exp. Inactive results are
	// not cached.
	CacheTTL time.Duration
}

const (
	defaultLeeway        = 30 * time.Second
	defaultMaxTokenBytes = 16 << 10
	defaultMaxBodyBytes  = 4 << 20
	defaultMaxJSONDepth  = 64
	defaultSessionIdle   = time.Hour
	defaultMaxSessions   = 10_000
	defaultMaxPerSubject = 100
	maxInflight          = 100_000
	// Bounds on the in-memory maps, so no flood of requests, even with valid
	// tokens, grows memory without limit. Past them, new entries are not kept:
	// tokens are verified again, sessions are left to the MCP server.
	maxCachedTokens      = 100_000
	maxCachedTokenBytes  = 64 << 20
	defaultTokenCacheTTL = 5 * time.Minute
	defaultRefresh       = 15 * time.Minute
	defaultMinGap        = 10 * time.Second
	defaultIntrospectTTL = time.Minute
	maxKeySetBytes       = 1 << 20
)

var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
