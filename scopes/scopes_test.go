package scopes

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mcpauth/mcpauth/internal/idpclaims"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{"empty", "", nil, false},
		{"rfc6749 list", "notes:read notes:write", []string{"notes:read", "notes:write"}, false},
		{"sorted and deduplicated", "b a b", []string{"a", "b"}, false},
		{"runs of spaces tolerated", "  a   b ", []string{"a", "b"}, false},
		{"comma kept inside a token by default", "a,b", []string{"a,b"}, false},
		{"url scope", "https://mcp.example.com/mcp.read", []string{"https://mcp.example.com/mcp.read"}, false},
		{"double quote injection", `a" error="x`, nil, true},
		{"backslash", `a\b`, nil, true},
		{"tab delimiter", "a\tb", nil, true},
		{"header injection CRLF", "a\r\nWWW-Authenticate: x", nil, true},
		{"non-ASCII", "notes:réad", nil, true},
		{"NUL byte", "a\x00", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr {
				var se *SyntaxError
				if !errors.As(err, &se) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Parse(%q) error = %v, want *SyntaxError wrapping ErrInvalid", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got.Slice(), tt.want) && !(len(tt.want) == 0 && got.IsEmpty()) {
				t.Fatalf("Parse(%q) = %q, want %q", tt.in, got.Slice(), tt.want)
			}
		})
	}
}

func TestSyntaxErrorNamesCharacterAndClaim(t *testing.T) {
	_, err := MustNormalizer(Config{}).FromClaims(map[string]any{"scp": "ok bad\"x"})
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *SyntaxError", err)
	}
	if se.Claim != "scp" || se.Offset != 3 || !strings.Contains(err.Error(), `bad\"x`) {
		t.Fatalf("error %q (claim %q offset %d) does not locate the bad character", err, se.Claim, se.Offset)
	}
}

func TestSet(t *testing.T) {
	a := New("c", "a", "b", "a", "")
	if got := a.String(); got != "a b c" {
		t.Fatalf("String() = %q", got)
	}
	if !a.Contains("b") || a.Contains("d") || a.Len() != 3 {
		t.Fatalf("membership wrong for %v", a)
	}
	big := New("s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09", "s10", "s11")
	if !big.Contains("s07") || big.Contains("s12") {
		t.Fatalf("binary-search membership wrong")
	}
	if got := a.Union(New("d", "a")).String(); got != "a b c d" {
		t.Fatalf("Union = %q", got)
	}
	if got := a.Difference(New("b")).String(); got != "a c" {
		t.Fatalf("Difference = %q", got)
	}
	s := a.Slice()
	s[0] = "zzz"
	if a.String() != "a b c" {
		t.Fatalf("Slice exposed internal storage: %v", a)
	}
	var collected []string
	for v := range a.All() {
		collected = append(collected, v)
	}
	if strings.Join(collected, " ") != "a b c" {
		t.Fatalf("All() = %v", collected)
	}
	if !a.ContainsAll(New("a", "c")) || a.ContainsAll(New("a", "x")) {
		t.Fatalf("ContainsAll wrong")
	}
	var zero Set
	if !zero.IsEmpty() || zero.String() != "" || zero.Contains("") {
		t.Fatalf("zero Set not empty")
	}
}

func TestSetJSON(t *testing.T) {
	b, err := json.Marshal(New("b", "a"))
	if err != nil || string(b) != `["a","b"]` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	b, _ = json.Marshal(Set{})
	if string(b) != `[]` {
		t.Fatalf("Marshal(empty) = %s", b)
	}
	for _, in := range []string{`["b","a"]`, `"a b"`} {
		var s Set
		if err := json.Unmarshal([]byte(in), &s); err != nil || s.String() != "a b" {
			t.Fatalf("Unmarshal(%s) = %v, %v", in, s, err)
		}
	}
	var s Set
	if err := json.Unmarshal([]byte(`[1]`), &s); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Unmarshal([1]) err = %v, want ErrInvalid", err)
	}
}

// withClaim returns a copy of claims with key set to v (or removed when v is nil).
func withClaim(claims map[string]any, key string, v any) map[string]any {
	out := make(map[string]any, len(claims)+1)
	for k, val := range claims {
		out[k] = val
	}
	if v == nil {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

func TestFromClaimsRealIdPShapes(t *testing.T) {
	entra := idpclaims.Find("Microsoft Entra ID - v2.0 access token, delegated").Claims
	entraApp := idpclaims.Find("Microsoft Entra ID - v2.0 access token, app-only").Claims
	okta := idpclaims.Find("Okta").Claims
	auth0 := idpclaims.Find("Auth0 - default").Claims
	keycloak := idpclaims.Find("Keycloak").Claims
	scalekit := idpclaims.Find("Scalekit").Claims
	workos := idpclaims.Find("WorkOS").Claims
	hydra := idpclaims.Find("Ory Hydra").Claims
	cognito := idpclaims.Find("AWS Cognito").Claims

	tests := []struct {
		name   string
		cfg    Config
		claims map[string]any
		want   string
	}{
		{"Entra v2 scp string", Config{}, entra, "access_as_user mcp.tools.read"},
		{"Entra v2 scp with api:// prefix stripped", Config{StripPrefixes: []string{"api://6e74172b-be56-4843-9ff4-e66a39bb12e3/"}},
			withClaim(entra, "scp", "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/mcp.tools.read access_as_user"), "access_as_user mcp.tools.read"},
		{"Entra app-only roles when configured", Config{Claims: []string{"scp", "roles"}}, entraApp, "Mcp.Tools.ReadWrite.All"},
		{"Entra app-only roles ignored by default", Config{}, entraApp, ""},
		{"Okta scp array", Config{}, okta, "email mcp:read mcp:write openid"},
		{"Auth0 default profile reads scope first", Config{}, auth0, "openid profile read:tools write:tools"},
		{"Auth0 RBAC permissions when configured first", Config{Claims: []string{"permissions", "scope"}}, auth0, "read:tools write:tools"},
		{"Keycloak scope string", Config{}, keycloak, "email mcp:read openid profile"},
		{"Scalekit scopes array", Config{}, scalekit, "todo:read todo:write"},
		{"WorkOS scope string", Config{}, workos, "email offline_access openid profile"},
		{"Hydra scp array", Config{}, hydra, "mcp:read offline_access openid"},
		{"JSON-array scope claim", Config{}, withClaim(keycloak, "scope", []any{"mcp:read", "mcp:write"}), "mcp:read mcp:write"},
		{"array elements holding several scopes", Config{}, withClaim(keycloak, "scope", []any{"mcp:read mcp:write"}), "mcp:read mcp:write"},
		{"Cognito resource-server prefix stripped", Config{StripPrefixes: []string{"https://mcp.example.com/"}}, cognito, "email mcp.read openid"},
		{"comma-separated scope with opt-in delimiters", Config{Delimiters: ","}, withClaim(keycloak, "scope", "mcp:read,mcp:write"), "mcp:read mcp:write"},
		{"plus-separated scope with opt-in delimiters", Config{Delimiters: "+"}, withClaim(keycloak, "scope", "mcp:read+mcp:write"), "mcp:read mcp:write"},
		{"comma-separated scope strict by default", Config{}, withClaim(keycloak, "scope", "mcp:read,mcp:write"), "mcp:read,mcp:write"},
		{"case folded when configured", Config{FoldCase: true}, withClaim(keycloak, "scope", "MCP:Read"), "mcp:read"},
		{"case kept by default", Config{}, withClaim(keycloak, "scope", "MCP:Read"), "MCP:Read"},
		{"alias rewrites granted scope", Config{Aliases: map[string]string{"orgs:write": "org:write"}}, withClaim(keycloak, "scope", "orgs:write env:read"), "env:read org:write"},
		{"no scope claim at all", Config{}, withClaim(keycloak, "scope", nil), ""},
		{"null scope claim", Config{}, map[string]any{"scope": nil, "scp": "ignored"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := MustNormalizer(tt.cfg)
			got, err := n.FromClaims(tt.claims)
			if err != nil {
				t.Fatalf("FromClaims: %v", err)
			}
			if got.String() != tt.want {
				t.Fatalf("FromClaims = %q, want %q", got.String(), tt.want)
			}
		})
	}
}

func TestFromClaimsWrongTypes(t *testing.T) {
	tests := []struct {
		name  string
		value any
		got   string
	}{
		{"scope as number", 42.0, "a number"},
		{"scope as boolean", true, "a boolean"},
		{"scope as object", map[string]any{"a": "b"}, "an object"},
		{"scope array with a number", []any{"a", 1.0}, "array with a number"},
		{"scope array with an object", []any{map[string]any{}}, "array with an object"},
		{"scope array with null", []any{nil}, "array with null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (*Normalizer)(nil).FromClaims(map[string]any{"scope": tt.value, "scp": "x"})
			var ce *ClaimTypeError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want *ClaimTypeError", err)
			}
			if ce.Claim != "scope" || ce.Got != tt.got {
				t.Fatalf("ClaimTypeError = %+v, want claim scope, got %q", ce, tt.got)
			}
		})
	}
}

func TestNewNormalizerRejectsBadConfig(t *testing.T) {
	for name, c := range map[string]Config{
		"delimiter outside the allowed set": {Delimiters: ":"},
		"empty prefix":                      {StripPrefixes: []string{""}},
		"empty claim name":                  {Claims: []string{"scope", ""}},
		"alias to a token with a space":     {Aliases: map[string]string{"a": "b c"}},
		"implication of a quoted scope":     {Implies: map[string][]string{"a": {`b"`}}},
		"implication from empty scope":      {Implies: map[string][]string{"": {"b"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewNormalizer(c); err == nil {
				t.Fatalf("NewNormalizer accepted %+v", c)
			}
		})
	}
}

func TestStripPrefixesLongestFirst(t *testing.T) {
	n := MustNormalizer(Config{StripPrefixes: []string{"api://", "api://app/"}})
	if got := n.Normalize("api://app/notes.read"); got != "notes.read" {
		t.Fatalf("Normalize = %q, want the longest prefix stripped", got)
	}
	if got := n.Normalize("api://"); got != "api://" {
		t.Fatalf("a scope equal to a prefix must not become empty, got %q", got)
	}
}

var hierarchy = Config{Implies: map[string][]string{
	"notes:admin": {"notes:write"},
	"notes:write": {"notes:read"},
}}

func TestRequirements(t *testing.T) {
	n := MustNormalizer(hierarchy)
	adminOrRW := AnyOf(All("admin"), All("notes:read", "notes:write"))
	tests := []struct {
		name      string
		granted   string
		req       Requirement
		satisfied bool
		path      string
		missing   string
		minimal   string
		gpn       string
	}{
		{"zero requirement always met", "", Requirement{}, true, "", "", "", ""},
		{"all-of met", "notes:read notes:write", All("notes:write"), true, "notes:write", "", "", ""},
		{"all-of missing one", "notes:read", All("notes:read", "notes:write"), false, "notes:read notes:write", "notes:write", "notes:read notes:write", "notes:read notes:write"},
		{"any-of first path", "admin", adminOrRW, true, "admin", "", "", ""},
		{"any-of second path", "notes:read notes:write", adminOrRW, true, "notes:read notes:write", "", "", ""},
		{"any-of cheapest path chosen", "notes:read", adminOrRW, false, "notes:read notes:write", "notes:write", "notes:read notes:write", "notes:read notes:write"},
		{"any-of fewest missing wins", "", adminOrRW, false, "admin", "admin", "admin", "admin"},
		{"any-of tie goes to the first declared", "", AnyOf(All("b"), All("a")), false, "b", "b", "b", "b"},
		{"implication one level", "notes:write", All("notes:read"), true, "notes:read", "", "", ""},
		{"implication transitive", "notes:admin", All("notes:read"), true, "notes:read", "", "", ""},
		{"implication does not run upwards", "notes:read", All("notes:admin"), false, "notes:admin", "notes:admin", "notes:admin", "notes:admin notes:read"},
		{"no wildcard without a declaration", "notes:*", All("notes:read"), false, "notes:read", "notes:read", "notes:read", "notes:* notes:read"},
		{"granted plus needed keeps unrelated grants", "env:read notes:read", All("notes:write"), false, "notes:write", "notes:write", "notes:write", "env:read notes:read notes:write"},
		{"offline_access never challenged", "offline_access openid", All("notes:read"), false, "notes:read", "notes:read", "notes:read", "notes:read openid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			granted := MustParse(tt.granted)
			res := n.Check(granted, tt.req)
			if res.Satisfied != tt.satisfied || n.Satisfies(granted, tt.req) != tt.satisfied {
				t.Fatalf("Satisfied = %v, want %v", res.Satisfied, tt.satisfied)
			}
			for _, c := range []struct{ what, got, want string }{
				{"Path", res.Path.String(), tt.path},
				{"Missing", res.Missing.String(), tt.missing},
				{"Minimal", res.Minimal.String(), tt.minimal},
				{"GrantedPlusNeeded", res.GrantedPlusNeeded.String(), tt.gpn},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestImplicationCycleTerminates(t *testing.T) {
	n := MustNormalizer(Config{Implies: map[string][]string{"a": {"b"}, "b": {"a", "c"}}})
	if got := n.Implied("a").String(); got != "b c" {
		t.Fatalf("Implied(a) = %q, want %q", got, "b c")
	}
	if got := n.Expand(New("a")).String(); got != "a b c" {
		t.Fatalf("Expand = %q", got)
	}
}

func TestRequirementStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "notes:write", "admin | notes:read notes:write", "a b | c | d e f"} {
		r, err := ParseRequirement(s)
		if err != nil {
			t.Fatalf("ParseRequirement(%q): %v", s, err)
		}
		if r.String() != s {
			t.Fatalf("round trip %q -> %q", s, r.String())
		}
	}
	for _, bad := range []string{"a | | b", "a |", `a"`, "a ||| b | |"} {
		if _, err := ParseRequirement(bad); err == nil {
			t.Fatalf("ParseRequirement(%q) accepted", bad)
		}
	}
}

func TestRequirementAnd(t *testing.T) {
	base := All("mcp:tools")
	tool := AnyOf(All("admin"), All("notes:write"))
	got := base.And(tool).String()
	if got != "admin mcp:tools | mcp:tools notes:write" {
		t.Fatalf("And = %q", got)
	}
	if !Requirement.IsZero(Requirement{}.And(Requirement{})) || base.And(Requirement{}).String() != "mcp:tools" {
		t.Fatalf("And with zero is not identity")
	}
	if !AnyOf(All("a"), Requirement{}).IsZero() {
		t.Fatalf("AnyOf with a zero path must need nothing")
	}
	if got := AnyOf(All("a"), All("a")).String(); got != "a" {
		t.Fatalf("duplicate paths kept: %q", got)
	}
	if got := tool.Scopes().String(); got != "admin notes:write" {
		t.Fatalf("Scopes = %q", got)
	}
}

func TestCheckSatisfiedDoesNotAllocate(t *testing.T) {
	n := MustNormalizer(hierarchy)
	granted := MustParse("openid profile notes:admin env:read env:write a b c d e f")
	req := AnyOf(All("admin"), All("notes:read", "notes:write"))
	if allocs := testing.AllocsPerRun(100, func() {
		if !n.Check(granted, req).Satisfied || !n.Satisfies(granted, req) {
			t.Fatal("not satisfied")
		}
	}); allocs != 0 {
		t.Fatalf("Check on a satisfied requirement allocated %v times", allocs)
	}
}

func TestExplain(t *testing.T) {
	aliased := Config{Aliases: map[string]string{"orgs:write": "org:write"}}
	tests := []struct {
		name     string
		cfg      Config
		granted  string
		req      Requirement
		code     HintCode
		granted1 string
		mention  string
	}{
		{"org vs orgs plural", Config{}, "orgs:write env:read", All("org:write"), HintPlural, "orgs:write", `Aliases["orgs:write"] = "org:write"`},
		{"typo one edit away", Config{}, "notes:wirte", All("notes:write"), HintEditDistance, "notes:wirte", "2 edit(s)"},
		{"case-only difference", Config{}, "Notes:Write", All("notes:write"), HintCase, "Notes:Write", "FoldCase"},
		{"Entra api prefix not stripped", Config{}, "api://6e74/notes.read", All("notes.read"), HintPrefixExtra, "api://6e74/notes.read", `"api://6e74/"`},
		{"requirement carries a prefix", Config{}, "notes.read", All("api://6e74/notes.read"), HintPrefixMissing, "notes.read", `"api://6e74/"`},
		{"comma-joined scopes", Config{}, "notes:read,notes:write", All("notes:write"), HintDelimiter, "notes:read,notes:write", "Delimiters"},
		{"Auth0 verb-first permission", Config{}, "read:tools", All("tools:read"), HintAlias, "read:tools", `Aliases["read:tools"] = "tools:read"`},
		{"requirement names an alias source", aliased, "orgs:write", All("orgs:write"), HintAlias, "org:write", `require "org:write"`},
		{"no scopes at all", Config{}, "", All("notes:read"), HintNoScopes, "", `"scope", "scp", "scopes", "permissions"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := MustNormalizer(tt.cfg)
			granted, err := n.Parse(tt.granted)
			if err != nil {
				t.Fatal(err)
			}
			hints := n.Explain(granted, tt.req)
			if len(hints) == 0 {
				t.Fatalf("no hints for %q against %v", tt.granted, tt.req)
			}
			h := hints[0]
			if h.Code != tt.code || h.Granted != tt.granted1 || !strings.Contains(h.Message, tt.mention) {
				t.Fatalf("hint = %+v, want code %s granted %q mentioning %q", h, tt.code, tt.granted1, tt.mention)
			}
		})
	}
}

func TestExplainQuietWhenUnrelatedOrSatisfied(t *testing.T) {
	n := MustNormalizer(hierarchy)
	if h := n.Explain(MustParse("notes:admin"), All("notes:read")); h != nil {
		t.Fatalf("hints for a satisfied requirement: %v", h)
	}
	if h := n.Explain(MustParse("calendar:read"), All("notes:write")); len(h) != 0 {
		t.Fatalf("hints for an unrelated scope: %v", h)
	}
	if h := n.Explain(MustParse("ab"), All("ac")); len(h) != 0 {
		t.Fatalf("short scopes must not produce typo noise: %v", h)
	}
}

func TestExplainCoversEveryPathOnce(t *testing.T) {
	n := MustNormalizer(Config{})
	req := AnyOf(All("admin"), All("notes:write"))
	hints := n.Explain(MustParse("admins notes:wrte"), req)
	var codes []string
	for _, h := range hints {
		codes = append(codes, string(h.Code)+"/"+h.Required)
	}
	if strings.Join(codes, ",") != "plural/admin,edit_distance/notes:write" {
		t.Fatalf("hints = %v", codes)
	}
}
