package scopes

import (
	"fmt"
	"strings"
)

// Requirement says which scopes an operation needs: one or more paths, any of
// which suffices, each needing all of its scopes. All("notes:write") has one
// path; AnyOf(All("admin"), All("notes:read", "notes:write")) is satisfied by
// admin, or by notes:read together with notes:write. The zero Requirement
// needs nothing.
type Requirement struct {
	paths []Set
}

// All returns the Requirement of every one of the given scopes.
func All(scopes ...string) Requirement {
	s := New(scopes...)
	if s.IsEmpty() {
		return Requirement{}
	}
	return Requirement{paths: []Set{s}}
}

// AnyOf returns the Requirement satisfied when any one of reqs is.
// A zero Requirement among them makes the result zero (needs nothing).
func AnyOf(reqs ...Requirement) Requirement {
	var paths []Set
	for _, r := range reqs {
		if r.IsZero() {
			return Requirement{}
		}
		paths = append(paths, r.paths...)
	}
	return Requirement{paths: dedupePaths(paths)}
}

// And returns the Requirement satisfied when both r and other are: every path
// of r combined with every path of other.
func (r Requirement) And(other Requirement) Requirement {
	if r.IsZero() {
		return other
	}
	if other.IsZero() {
		return r
	}
	paths := make([]Set, 0, len(r.paths)*len(other.paths))
	for _, a := range r.paths {
		for _, b := range other.paths {
			paths = append(paths, a.Union(b))
		}
	}
	return Requirement{paths: dedupePaths(paths)}
}

func dedupePaths(paths []Set) []Set {
	out := paths[:0:0]
	for _, p := range paths {
		dup := false
		for _, q := range out {
			if q.Equal(p) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// ParseRequirement parses the String form of a Requirement: paths separated
// by a lone "|", each path a space-delimited list of scopes, e.g.
// "admin | notes:read notes:write". An empty string is the zero Requirement.
func ParseRequirement(s string) (Requirement, error) {
	var reqs []Requirement
	for part := range strings.SplitSeq(s, " | ") {
		set, err := Parse(part)
		if err != nil {
			return Requirement{}, err
		}
		if set.Contains("|") {
			return Requirement{}, fmt.Errorf("%w: requirement %q: separate paths with \" | \"", ErrInvalid, s)
		}
		if set.IsEmpty() {
			if strings.TrimSpace(s) == "" {
				return Requirement{}, nil
			}
			return Requirement{}, fmt.Errorf("%w: requirement %q has an empty path", ErrInvalid, s)
		}
		reqs = append(reqs, Requirement{paths: []Set{set}})
	}
	return AnyOf(reqs...), nil
}

// IsZero reports whether r needs no scope at all.
func (r Requirement) IsZero() bool { return len(r.paths) == 0 }

// Paths returns the alternative scope sets of r, in declaration order.
func (r Requirement) Paths() []Set { return append([]Set(nil), r.paths...) }

// Scopes returns every scope that appears in any path of r.
func (r Requirement) Scopes() Set {
	var out Set
	for _, p := range r.paths {
		out = out.Union(p)
	}
	return out
}

// String returns the paths separated by " | "; [ParseRequirement] reads it back.
func (r Requirement) String() string {
	parts := make([]string, len(r.paths))
	for i, p := range r.paths {
		parts[i] = p.String()
	}
	return strings.Join(parts, " | ")
}

// Result is the outcome of checking granted scopes against a [Requirement].
type Result struct {
	// Satisfied reports whether some path is fully granted.
	Satisfied bool
	// Path is the path that was satisfied or, when none was, the cheapest one:
	// fewest missing scopes, then most scopes already held, then first declared.
	Path Set
	// Missing lists the scopes of Path neither granted nor implied.
	Missing Set
	// Minimal is what a challenge asks for under the minimal strategy: the
	// scopes of Path, without offline_access. Empty when Satisfied.
	Minimal Set
	// GrantedPlusNeeded is the granted scopes together with Path, without
	// offline_access. 2025-11-25 clients replace their scope set with the
	// challenge's, so a challenge that names only the new scopes would make them
	// lose the ones they had. Empty when Satisfied.
	GrantedPlusNeeded Set
}

// Satisfies reports whether granted meets req, counting implications. It does
// not allocate.
func (n *Normalizer) Satisfies(granted Set, req Requirement) bool {
	if req.IsZero() {
		return true
	}
	for _, p := range req.paths {
		if n.missingCount(granted, p) == 0 {
			return true
		}
	}
	return false
}

func (n *Normalizer) missingCount(granted, path Set) int {
	c := 0
	for _, s := range path.s {
		if !n.has(granted, s) {
			c++
		}
	}
	return c
}

// Check evaluates req against granted. When req is satisfied it does not
// allocate; otherwise it computes what is missing and what to ask for.
func (n *Normalizer) Check(granted Set, req Requirement) Result {
	if req.IsZero() {
		return Result{Satisfied: true}
	}
	best, bestMissing, bestHeld := -1, 0, 0
	for i, p := range req.paths {
		m := n.missingCount(granted, p)
		if m == 0 {
			return Result{Satisfied: true, Path: p}
		}
		held := p.Len() - m
		if best < 0 || m < bestMissing || (m == bestMissing && held > bestHeld) {
			best, bestMissing, bestHeld = i, m, held
		}
	}
	path := req.paths[best]
	var missing []string
	for _, s := range path.s {
		if !n.has(granted, s) {
			missing = append(missing, s)
		}
	}
	return Result{
		Path:              path,
		Missing:           Set{s: missing},
		Minimal:           path.Without(OfflineAccess),
		GrantedPlusNeeded: granted.Union(path).Without(OfflineAccess),
	}
}
