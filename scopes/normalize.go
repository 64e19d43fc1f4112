package scopes

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultClaims are the claim names [Normalizer.FromClaims] reads when
// [Config.Claims] is empty, in order: the RFC 8693/9068 "scope" (string, or
// an array on some servers), "scp" (Entra: string; Okta, Hydra: array),
// "scopes" (Scalekit: array) and "permissions" (Auth0 RBAC: array).
var DefaultClaims = []string{"scope", "scp", "scopes", "permissions"}

// OfflineAccess is the scope that asks for a refresh token. It never names a
// permission on a resource, so challenges leave it out.
const OfflineAccess = "offline_access"

// Config says once, for a whole server, how granted scopes are read and
// compared. The zero Config is strict RFC 6749: scopes from [DefaultClaims],
// space-delimited, case-sensitive, no prefixes, aliases or implications.
type Config struct {
	// Claims lists the token claims that may carry scopes, in order. The first
	// claim present in a token supplies its scopes; the others are ignored. Empty
	// means [DefaultClaims]. Add "roles" for Entra app-only tokens.
	Claims []string

	// Delimiters lists characters, besides space, that separate scopes inside
	// one string, for authorization servers that send "a,b" or "a+b". RFC 6749
	// allows ',' and '+' inside a scope token, so this is opt-in; without it,
	// [Normalizer.Explain] names the delimiter problem instead. Allowed
	// characters: , + ; |
	Delimiters string

	// StripPrefixes are removed from the front of a granted scope, the longest
	// matching prefix first, e.g. "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/"
	// for Entra or "https://mcp.example.com/" for Cognito resource servers.
	StripPrefixes []string

	// Aliases rewrites a granted scope to the name the server checks, after
	// prefix stripping: {"orgs:write": "org:write"}.
	Aliases map[string]string

	// FoldCase lowercases granted scopes (and prefixes and alias keys) before
	// comparing. Scopes are case-sensitive by default, as RFC 6749 says;
	// requirements must then be written in lowercase.
	FoldCase bool

	// Implies declares scope hierarchies: {"notes:admin": {"notes:write"},
	// "notes:write": {"notes:read"}} makes notes:admin satisfy notes:write and
	// notes:read. Implications are transitive. There are no wildcards: a scope
	// like "notes:*" means something only if it is declared here.
	Implies map[string][]string
}

// Normalizer applies a [Config] to granted scopes and evaluates requirements
// against them. It is immutable and safe for concurrent use. A nil
// *Normalizer behaves like one built from the zero Config.
type Normalizer struct {
	claims    []string
	delims    string
	prefixes  []string // longest first
	aliases   map[string]string
	fold      bool
	implies   map[string]Set      // scope -> everything it implies, transitively
	impliedBy map[string][]string // scope -> every scope that implies it
}

// NewNormalizer checks c and compiles it. It fails on a delimiter outside
// ", + ; |", an alias or implication naming an invalid scope token, or an
// empty prefix or claim name.
func NewNormalizer(c Config) (*Normalizer, error) {
	n := &Normalizer{fold: c.FoldCase}
	n.claims = slices.Clone(c.Claims)
	if len(n.claims) == 0 {
		n.claims = slices.Clone(DefaultClaims)
	}
	for _, name := range n.claims {
		if name == "" {
			return nil, fmt.Errorf("scopes: Config.Claims has an empty claim name")
		}
	}
	for _, d := range c.Delimiters {
		if !strings.ContainsRune(",+;|", d) {
			return nil, fmt.Errorf("scopes: Config.Delimiters: %q is not one of , + ; |", d)
		}
	}
	n.delims = c.Delimiters
	for _, p := range c.StripPrefixes {
		if p == "" {
			return nil, fmt.Errorf("scopes: Config.StripPrefixes has an empty prefix")
		}
		n.prefixes = append(n.prefixes, n.fold1(p))
	}
	slices.SortStableFunc(n.prefixes, func(a, b string) int { return len(b) - len(a) })
	if len(c.Aliases) > 0 {
		n.aliases = make(map[string]string, len(c.Aliases))
		for from, to := range c.Aliases {
			if !ValidToken(from) || !ValidToken(to) {
				return nil, fmt.Errorf("scopes: Config.Aliases: %q -> %q: both sides must be valid scope tokens", from, to)
			}
			n.aliases[n.fold1(from)] = to
		}
	}
	if len(c.Implies) > 0 {
		direct := make(map[string][]string, len(c.Implies))
		for from, tos := range c.Implies {
			if !ValidToken(from) {
				return nil, fmt.Errorf("scopes: Config.Implies: %q is not a valid scope token", from)
			}
			for _, to := range tos {
				if !ValidToken(to) {
					return nil, fmt.Errorf("scopes: Config.Implies[%q]: %q is not a valid scope token", from, to)
				}
			}
			direct[from] = tos
		}
		n.implies = make(map[string]Set, len(direct))
		n.impliedBy = make(map[string][]string)
		for from := range direct {
			seen := map[string]bool{from: true}
			stack := slices.Clone(direct[from])
			var closure []string
			for len(stack) > 0 {
				s := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if seen[s] {
					continue
				}
				seen[s] = true
				closure = append(closure, s)
				stack = append(stack, direct[s]...)
			}
			n.implies[from] = New(closure...)
			for _, s := range closure {
				n.impliedBy[s] = append(n.impliedBy[s], from)
			}
		}
		for s := range n.impliedBy {
			slices.Sort(n.impliedBy[s])
		}
	}
	return n, nil
}

// MustNormalizer is like [NewNormalizer] but panics on error, for
// configurations written in source code.
func MustNormalizer(c Config) *Normalizer {
	n, err := NewNormalizer(c)
	if err != nil {
		panic(err)
	}
	return n
}

// Claims returns the claim names the Normalizer reads, in order.
func (n *Normalizer) Claims() []string {
	if n == nil {
		return slices.Clone(DefaultClaims)
	}
	return slices.Clone(n.claims)
}

func (n *Normalizer) fold1(s string) string {
	if n != nil && n.fold {
		return strings.ToLower(s)
	}
	return s
}

// Parse parses an RFC 6749 scope string and normalizes each token.
func (n *Normalizer) Parse(s string) (Set, error) { return parseString("", s, n) }

// Normalize applies case folding, prefix stripping and aliases to one scope
// token, as granted scopes are treated. It does not validate the token.
func (n *Normalizer) Normalize(scope string) string {
	if n == nil {
		return scope
	}
	scope = n.fold1(scope)
	for _, p := range n.prefixes {
		if len(scope) > len(p) && strings.HasPrefix(scope, p) {
			scope = scope[len(p):]
			break
		}
	}
	if to, ok := n.aliases[scope]; ok {
		scope = to
	}
	return scope
}

// appendToken validates tok, splits it on the opt-in delimiters, normalizes
// the pieces and appends them to out.
func (n *Normalizer) appendToken(out []string, claim, tok string) ([]string, error) {
	if off := badChar(tok); off >= 0 {
		return nil, syntaxError(claim, tok, off)
	}
	if n == nil {
		return append(out, tok), nil
	}
	if n.delims == "" || !strings.ContainsAny(tok, n.delims) {
		return append(out, n.Normalize(tok)), nil
	}
	for tok != "" {
		i := strings.IndexAny(tok, n.delims)
		piece := tok
		if i < 0 {
			tok = ""
		} else {
			piece, tok = tok[:i], tok[i+1:]
		}
		if piece != "" {
			out = append(out, n.Normalize(piece))
		}
	}
	return out, nil
}

// FromClaims reads the granted scopes from decoded JWT or introspection
// claims: the first claim of [Config.Claims] present supplies them, as a
// space-delimited string or an array of strings. A claim of another type, or
// a token with a character RFC 6749 forbids, is an error wrapping
// [ErrInvalid]. No claim present is an empty Set, not an error.
func (n *Normalizer) FromClaims(claims map[string]any) (Set, error) {
	return n.FromLookup(func(name string) (any, bool, error) {
		v, ok := claims[name]
		return v, ok, nil
	})
}

// FromLookup is [Normalizer.FromClaims] for claims kept other than in a
// map: lookup returns a claim's decoded JSON value and whether it is
// present, or an error that is passed on.
func (n *Normalizer) FromLookup(lookup func(name string) (any, bool, error)) (Set, error) {
	names := DefaultClaims
	if n != nil {
		names = n.claims
	}
	for _, name := range names {
		v, ok, err := lookup(name)
		if err != nil {
			return Set{}, err
		}
		if ok {
			return fromValue(name, v, n)
		}
	}
	return Set{}, nil
}

// Implied returns every scope that scope implies, transitively, not
// including scope itself.
func (n *Normalizer) Implied(scope string) Set {
	if n == nil {
		return Set{}
	}
	return n.implies[scope]
}

// Expand returns granted together with every scope it implies.
func (n *Normalizer) Expand(granted Set) Set {
	out := granted
	for _, g := range granted.s {
		out = out.Union(n.Implied(g))
	}
	return out
}

// has reports whether granted holds scope directly or through an implication.
// It does not allocate.
func (n *Normalizer) has(granted Set, scope string) bool {
	if granted.Contains(scope) {
		return true
	}
	if n == nil {
		return false
	}
	for _, by := range n.impliedBy[scope] {
		if granted.Contains(by) {
			return true
		}
	}
	return false
}
