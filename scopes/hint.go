package scopes

import (
	"fmt"
	"strings"
)

// HintCode is the stable, machine-readable kind of a [Hint].
type HintCode string

// The hint codes. They are stable: log pipelines and dashboards may match on them.
const (
	// HintNoScopes: the token carries none of the configured scope claims.
	HintNoScopes HintCode = "no_scopes"
	// HintDelimiter: a granted scope is several scopes joined by ',', '+' or ';'.
	HintDelimiter HintCode = "delimiter"
	// HintCase: a granted scope differs from a required one only in letter case.
	HintCase HintCode = "case"
	// HintAlias: the two names differ in a way only an alias can bridge: the
	// requirement names an alias source (granted scopes are rewritten to its
	// target), or the segments are swapped ("read:tools" for "tools:read").
	HintAlias HintCode = "alias"
	// HintPrefixExtra: a granted scope is the required one behind a prefix
	// that is not stripped ("api://app/notes.read" for "notes.read").
	HintPrefixExtra HintCode = "prefix_extra"
	// HintPrefixMissing: the requirement carries a prefix the granted scope
	// lacks ("notes.read" granted, "api://app/notes.read" required).
	HintPrefixMissing HintCode = "prefix_missing"
	// HintPlural: one segment differs by a plural ending ("orgs:write" for "org:write").
	HintPlural HintCode = "plural"
	// HintEditDistance: the names are one or two edits apart (a likely typo).
	HintEditDistance HintCode = "edit_distance"
)

// Hint explains why a granted scope that looks close to a required one did
// not satisfy it.
type Hint struct {
	Code     HintCode `json:"code"`
	Required string   `json:"required,omitempty"` // the scope the requirement names
	Granted  string   `json:"granted,omitempty"`  // the near-miss granted scope
	Message  string   `json:"message"`            // one sentence for an operator
}

// String returns the code and the message.
func (h Hint) String() string { return string(h.Code) + ": " + h.Message }

// Bounds on the work Explain does for one call: it runs on rejections, whose
// scopes come from signed tokens, but stays cheap even for huge grants.
const (
	maxExplainGranted  = 128
	maxExplainRequired = 32
)

// Explain returns hints for every required scope, over all paths of req, that
// granted misses but comes close to: the near misses behind "the token looks
// fine but can't call anything". Hints come in path order, cheapest path
// first, each (code, required, granted) once. A satisfied requirement has no
// hints.
func (n *Normalizer) Explain(granted Set, req Requirement) []Hint {
	res := n.Check(granted, req)
	if res.Satisfied {
		return nil
	}
	if granted.IsEmpty() {
		return []Hint{{Code: HintNoScopes, Message: fmt.Sprintf(
			"the token carries no scopes in the claims %s; check the authorization server grants scopes for this resource and puts them in one of these claims (scopes.Config.Claims)",
			quoteList(n.Claims()))}}
	}
	var hints []Hint
	seen := map[Hint]bool{}
	add := func(h Hint) {
		if !seen[h] {
			seen[h] = true
			hints = append(hints, h)
		}
	}
	paths := append([]Set{res.Path}, req.paths...)
	checked := 0
	for _, p := range paths {
		for _, r := range p.s {
			if n.has(granted, r) || checked >= maxExplainRequired {
				continue
			}
			checked++
			for i, g := range granted.s {
				if i >= maxExplainGranted {
					break
				}
				if h, ok := n.explainPair(r, g, granted); ok {
					add(h)
				}
			}
		}
	}
	return hints
}

// explainPair returns the first hint that relates granted scope g to the
// missing required scope r.
func (n *Normalizer) explainPair(r, g string, granted Set) (Hint, bool) {
	h := Hint{Required: r, Granted: g}
	switch {
	case strings.ContainsAny(g, ",+;") && containsPiece(g, r):
		h.Code = HintDelimiter
		h.Message = fmt.Sprintf("granted scope %q looks like several scopes joined by a delimiter, one of them %q; the authorization server should separate scopes with spaces (RFC 6749 §3.3), or set scopes.Config.Delimiters to accept it", g, r)
	case strings.EqualFold(g, r):
		h.Code = HintCase
		h.Message = fmt.Sprintf("granted scope %q differs from required %q only in letter case; scopes are case-sensitive (RFC 6749 §3.3): fix the name on one side, or set scopes.Config.FoldCase and require lowercase", g, r)
	case n != nil && n.aliases[n.fold1(r)] == g:
		h.Code = HintAlias
		h.Message = fmt.Sprintf("required scope %q is an alias of %q, and granted scopes are rewritten to %q before the check; require %q instead", r, g, g, g)
	case swapped(g, r):
		h.Code = HintAlias
		h.Message = fmt.Sprintf("granted scope %q names the same permission as required %q with its parts swapped; only an alias matches it: set scopes.Config.Aliases[%q] = %q", g, r, g, r)
	case len(g) > len(r) && strings.HasSuffix(g, r) && strings.ContainsRune("/:.", rune(g[len(g)-len(r)-1])):
		prefix := g[:len(g)-len(r)]
		h.Code = HintPrefixExtra
		h.Message = fmt.Sprintf("granted scope %q is required %q behind the prefix %q; add %q to scopes.Config.StripPrefixes", g, r, prefix, prefix)
	case len(r) > len(g) && strings.HasSuffix(r, g) && strings.ContainsRune("/:.", rune(r[len(r)-len(g)-1])):
		prefix := r[:len(r)-len(g)]
		h.Code = HintPrefixMissing
		h.Message = fmt.Sprintf("required scope %q has the prefix %q that granted %q lacks; write the requirement without the prefix (granted scopes are compared after stripping)", r, prefix, g)
	case plural(g, r):
		h.Code = HintPlural
		h.Message = fmt.Sprintf("granted scope %q differs from required %q only by a plural ending; fix the name on one side, or set scopes.Config.Aliases[%q] = %q", g, r, g, r)
	default:
		d := editDistance(g, r, 2)
		if d < 1 || d > 2 || len(r) < 4 || 2*d >= len(r) {
			return Hint{}, false
		}
		h.Code = HintEditDistance
		h.Message = fmt.Sprintf("granted scope %q is %d edit(s) away from required %q; probably a typo on one side", g, d, r)
	}
	return h, true
}

func containsPiece(g, r string) bool {
	for _, p := range strings.FieldsFunc(g, func(c rune) bool { return c == ',' || c == '+' || c == ';' }) {
		if p == r {
			return true
		}
	}
	return false
}

// splitSegments splits a scope on its first ':' or '.'.
func splitSegments(s string) (string, string, bool) {
	i := strings.IndexAny(s, ":.")
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func swapped(g, r string) bool {
	ga, gb, ok1 := splitSegments(g)
	ra, rb, ok2 := splitSegments(r)
	return ok1 && ok2 && ga == rb && gb == ra && ga != gb
}

// plural reports whether a and b have the same ':'/'.' separated segments
// except one, where one is the other plus "s" or "es".
func plural(a, b string) bool {
	as := strings.FieldsFunc(a, isSegSep)
	bs := strings.FieldsFunc(b, isSegSep)
	if len(as) != len(bs) || len(as) == 0 {
		return false
	}
	diff := 0
	for i := range as {
		if as[i] == bs[i] {
			continue
		}
		diff++
		x, y := as[i], bs[i]
		if len(x) < len(y) {
			x, y = y, x
		}
		if x != y+"s" && x != y+"es" {
			return false
		}
	}
	return diff == 1
}

func isSegSep(c rune) bool { return c == ':' || c == '.' || c == '/' || c == '_' || c == '-' }

// editDistance returns the Levenshtein distance between a and b, or max+1 if
// it exceeds max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d > max || -d > max {
		return max + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > max {
			return max + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
