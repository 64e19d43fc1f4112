package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/mcpauth/mcpauth/metadata"
	"github.com/mcpauth/mcpauth/scopes"
)

// buildMetadata fills the protected resource metadata (RFC 9728) the
// Authenticator serves, and where it serves it.
func (a *Authenticator) buildMetadata(cfg Config) error {
	servers := advertisedServers(cfg)
	if len(servers) == 0 {
		if cfg.Verifier != nil {
			return errors.New("Config.AuthorizationServers is empty: with Config.Verifier set, name the authorization servers clients sign in with")
		}
		return errors.New("Config.AuthorizationServers is empty and there are no issuers to advertise (Config.Tokens.Issuers)")
	}
	supported := cfg.ScopesSupported
	a.explicitSupported = len(supported) > 0
	if len(supported) == 0 {
		supported = cfg.BaselineScopes
	}
	for _, s := range supported {
		if !scopes.ValidToken(s) {
			return fmt.Errorf("Config.ScopesSupported: %q is not a valid scope token", s)
		}
	}
	a.challengeBaseline = scopes.New(cfg.BaselineScopes...).String()
	if a.challengeBaseline == "" {
		a.challengeBaseline = scopes.New(supported...).Without(scopes.OfflineAccess).String()
	}
	a.prm = metadata.ProtectedResource{
		Resource:               a.resource,
		AuthorizationServers:   servers,
		ScopesSupported:        scopes.New(supported...).Without(scopes.OfflineAccess).Slice(),
		BearerMethodsSupported: []string{"header"},
		ResourceName:           cfg.ResourceName,
		ResourceDocumentation:  cfg.ResourceDocumentation,
	}
	if a.dpop != nil {
		a.prm.DPoPSigningAlgValuesSupported = a.dpop.Algorithms()
		a.prm.DPoPBoundAccessTokensRequired = a.dpop.required
	}
	a.prmHandler = metadata.Handler(a.prm)
	pathURL, rootURL, err := metadata.WellKnownURLs(a.resource)
	if err != nil {
		return err
	}
	a.resourceMetadataURL = pathURL
	for _, u := range []string{pathURL, rootURL} {
		p, _ := url.Parse(u)
		if !slices.Contains(a.metadataPaths, p.Path) {
			a.metadataPaths = append(a.metadataPaths, p.Path)
		}
	}
	return nil
}

// advertiseScopes adds scopes to the scopes_supported of the metadata, unless
// [Config.ScopesSupported] set it explicitly (then it does nothing).
// offline_access and invalid scope tokens are never advertised. The SDK
// adapters call it (through kit.AdvertiseScopes) with the scopes their
// operations require.
func (a *Authenticator) advertiseScopes(s ...string) {
	a.prmMu.Lock()
	defer a.prmMu.Unlock()
	if a.explicitSupported {
		return
	}
	var valid []string
	for _, sc := range s {
		if scopes.ValidToken(sc) {
			valid = append(valid, sc)
		}
	}
	a.prm.ScopesSupported = scopes.New(a.prm.ScopesSupported...).Union(scopes.New(valid...)).Without(scopes.OfflineAccess).Slice()
	if a.dpop != nil {
		a.prm.DPoPSigningAlgValuesSupported = a.dpop.Algorithms()
		a.prm.DPoPBoundAccessTokensRequired = a.dpop.required
	}
	a.prmHandler = metadata.Handler(a.prm)
}

// ResourceMetadataURL returns the absolute URL of the metadata, as the
// challenges' resource_metadata parameter gives it.
func (a *Authenticator) ResourceMetadataURL() string { return a.resourceMetadataURL }

// MetadataHandler serves the protected resource metadata document.
func (a *Authenticator) MetadataHandler() http.Handler {
	a.prmMu.RLock()
	defer a.prmMu.RUnlock()
	return a.prmHandler
}

// MetadataPaths returns the URL paths at which clients look for the
// metadata: the path-inserted one first, then the root one.
func (a *Authenticator) MetadataPaths() []string { return slices.Clone(a.metadataPaths) }
