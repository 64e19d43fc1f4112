// Package scopes reads OAuth scopes from access tokens of any real shape,
// normalizes them once per server, decides whether they meet a requirement,
// and explains near misses in words.
//
// For most uses, build one [Normalizer] at start-up and call
// [Normalizer.FromClaims] on each token's claims, then [Normalizer.Check]
// against the operation's [Requirement]:
//
//	n, err := scopes.NewNormalizer(scopes.Config{
//		StripPrefixes: []string{"api://6e74172b-be56-4843-9ff4-e66a39bb12e3/"},
//		Implies:       map[string][]string{"notes:admin": {"notes:write"}, "notes:write": {"notes:read"}},
//	})
//	granted, err := n.FromClaims(claims)
//	res := n.Check(granted, scopes.All("notes:write"))
//	if !res.Satisfied {
//		// challenge with res.GrantedPlusNeeded; log n.Explain(granted, req)
//	}
//
// # The model
//
// A scope is an RFC 6749 §3.3 scope-token: printable ASCII without space,
// '"' or '\'. Scopes are case-sensitive. A [Set] is an immutable, sorted,
// duplicate-free set of scopes; its String form is the space-delimited list
// used on the wire, and [Parse] reads it back.
//
// Granted scopes come from a token's claims. Authorization servers disagree
// on where: "scope" as a string (RFC 9068, Keycloak, WorkOS, Auth0) or an
// array, "scp" as a string (Entra) or an array (Okta, Hydra), "scopes"
// (Scalekit) and "permissions" (Auth0 RBAC). [Config.Claims] lists the claims
// to read in order; the first one present wins. Anything other than a string
// or an array of strings is an error, never an empty set, so a mis-typed claim
// cannot pass for "no scopes".
//
// Normalization turns what the authorization server granted into the names
// the server checks, in this order: case folding ([Config.FoldCase], off by
// default), splitting on extra delimiters ([Config.Delimiters], off by
// default, since RFC 6749 allows ',' and '+' inside a scope), prefix
// stripping ([Config.StripPrefixes], e.g. Entra's "api://<app>/") and aliases
// ([Config.Aliases], e.g. "orgs:write" to "org:write"). Requirements are
// written in the normalized names and are not rewritten.
//
// A [Requirement] is one or more paths, any of which suffices, each needing all
// of its scopes: [All]("notes:write"), or [AnyOf]([All]("admin"),
// [All]("notes:read", "notes:write")). Implications ([Config.Implies]) declare
// hierarchies: with notes:admin implying notes:write, a token granted
// notes:admin meets [All]("notes:write"). Implications are transitive; there
// are no wildcards unless a server declares a scope like "notes:*" to imply
// others.
//
// # Challenges
//
// When a requirement is not met, [Normalizer.Check] picks the cheapest path
// (fewest missing scopes) and reports what a 403 insufficient_scope challenge
// should ask for: [Result.Minimal], that path alone, or
// [Result.GrantedPlusNeeded], the granted scopes plus that path. MCP clients
// of revision 2025-11-25 replace their scope set with the challenge's, so a
// challenge naming only the new scopes makes them drop the old ones and loop;
// granted-plus-needed is the safe default. offline_access never appears in
// either.
//
// # Explanations
//
// [Normalizer.Explain] compares each missing scope with each granted one and
// returns [Hint] values with a stable [HintCode] and one sentence for an
// operator: a plural ending ("orgs" for "org"), a typo one or two edits away,
// a difference only in case, a prefix not stripped or wrongly required,
// scopes joined by a delimiter, parts only an alias can match, or no scopes
// at all.
package scopes
