// Package idpclaims loads the recorded access-token shapes of real
// authorization servers (Entra, Okta, Auth0, Keycloak, Scalekit, WorkOS,
// Hydra, oidc-provider, Cognito, ...) for use as test fixtures. Values are
// placeholders in realistic formats; claim names and types are exact.
package idpclaims

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

//go:embed testdata/idp-claims.json
var raw []byte

// Provider is one recorded token shape.
type Provider struct {
	Name    string         `json:"name"`
	Header  map[string]any `json:"header"`
	Claims  map[string]any `json:"claims"`
	Gotchas []string       `json:"gotchas"`
}

// All returns every recorded provider, with claims decoded as encoding/json
// decodes a JWT payload (numbers as float64, arrays as []any).
func All() []Provider {
	var doc struct {
		Providers []Provider `json:"providers"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		panic(fmt.Sprintf("idpclaims: %v", err))
	}
	return doc.Providers
}

// Find returns the first provider whose name starts with prefix, panicking if
// there is none, so a renamed fixture fails the test loudly.
func Find(prefix string) Provider {
	for _, p := range All() {
		if strings.HasPrefix(p.Name, prefix) {
			return p
		}
	}
	panic(fmt.Sprintf("idpclaims: no provider named %q...", prefix))
}
