package authtest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/internal/randid"
	"github.com/mcpauth/mcpauth/scopes"
)

// TokenRequest describes a token for [Server.Mint].
type TokenRequest struct {
	Subject  string         // "" means Options.Subject
	ClientID string         // "" means "authtest-client"
	Scopes   []string       // granted scopes
	Audience []string       // aud; empty means Options.DefaultAudience, if any
	TTL      time.Duration  // zero means Options.AccessTokenTTL; negative mints an expired token
	Claims   map[string]any // extra or overriding claims
	// Header sets extra or overriding JOSE header parameters (a nil value
	// removes one), for tokens that test how verifiers treat crit, cty, jku,
	// typ and kid.
	Header map[string]any
	// KeyID names the key to sign with, made by [Server.NewKey] or
	// [Server.RotateKey]; "" means the current key.
	KeyID string
}

// Mint signs an RFC 9068 access token directly, skipping the flows.
func (s *Server) Mint(t TokenRequest) string {
	if t.Subject == "" {
		t.Subject = s.opts.Subject
	}
	if t.ClientID == "" {
		t.ClientID = "authtest-client"
	}
	if len(t.Audience) == 0 && s.opts.DefaultAudience != "" {
		t.Audience = []string{s.opts.DefaultAudience}
	}
	if t.TTL == 0 {
		t.TTL = s.opts.AccessTokenTTL
	}
	now := s.opts.Now()
	claims := map[string]any{
		"iss":       s.URL,
		"sub":       t.Subject,
		"client_id": t.ClientID,
		"iat":       now.Unix(),
		"exp":       now.Add(t.TTL).Unix(),
		"jti":       randid.New(12),
	}
	switch len(t.Audience) {
	case 0:
	case 1:
		claims["aud"] = t.Audience[0]
	default:
		claims["aud"] = t.Audience
	}
	granted := scopes.New(t.Scopes...)
	if s.opts.ScopeClaim == "scp" {
		claims["scp"] = granted.Slice()
	} else {
		claims["scope"] = granted.String()
	}
	for k, v := range t.Claims {
		claims[k] = v
	}
	return s.SignClaims(t.KeyID, claims, t.Header)
}

// MintClaims signs exactly claims, with no defaults, under the current key:
// for tokens that lack a claim or carry one of the wrong type. header sets
// extra or overriding JOSE header parameters (a nil value removes one).
func (s *Server) MintClaims(claims map[string]any, header map[string]any) string {
	return s.SignClaims("", claims, header)
}

// SignClaims is [Server.MintClaims] with the key kid ("" for the current
// one), with its algorithm. It panics for an unknown kid.
func (s *Server) SignClaims(kid string, claims map[string]any, header map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("authtest: claims: %v", err))
	}
	s.mu.Lock()
	key := s.signing
	if kid != "" {
		key = s.signers[kid]
	}
	s.mu.Unlock()
	if key == nil {
		panic(fmt.Sprintf("authtest: no signing key %q", kid))
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, "at+jwt")
	_ = h.Set(jws.KeyIDKey, key.private.KeyID())
	for name, v := range header {
		if v == nil {
			_ = h.Remove(name)
		} else {
			_ = h.Set(name, v)
		}
	}
	tok, err := jws.Sign(payload, jws.WithKey(key.alg, key.private, jws.WithProtectedHeaders(h)))
	if err != nil {
		panic(fmt.Sprintf("authtest: signing: %v", err))
	}
	return string(tok)
}

// idToken signs the OpenID Connect ID token of an openid grant: the
// subject, for the client, with the request's nonce.
func (s *Server) idToken(g oauthas.Grant) string {
	now := s.opts.Now()
	claims := map[string]any{"iss": s.URL, "sub": g.Subject, "aud": g.ClientID, "iat": now.Unix(), "exp": now.Add(s.opts.AccessTokenTTL).Unix()}
	if n := g.Extra["nonce"]; n != "" {
		claims["nonce"] = n
	}
	return s.SignClaims("", claims, map[string]any{"typ": "JWT"})
}

// userinfo answers a bearer token of this server's with who it stands for,
// as OpenID Connect's UserInfo and GitHub's /user do: sub, and a numeric id
// and login for OAuth 2.0 clients that identify users that way.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var claims map[string]any
	if ok {
		if msg, err := jws.Verify([]byte(raw), jws.WithKeySet(s.publicSet(), jws.WithInferAlgorithmFromKey(true))); err == nil {
			_ = json.Unmarshal(msg, &claims)
		}
	}
	if iss, _ := claims["iss"].(string); iss != s.URL {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid_token", http.StatusUnauthorized)
		return
	}
	sub, _ := claims["sub"].(string)
	sum := sha256.Sum256([]byte(sub))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"sub": sub, "login": sub, "id": binary.BigEndian.Uint32(sum[:4])})
}

// publicSet is the published key set.
func (s *Server) publicSet() jwk.Set {
	set := jwk.NewSet()
	s.mu.Lock()
	for _, k := range s.public {
		_ = set.AddKey(k)
	}
	s.mu.Unlock()
	return set
}
