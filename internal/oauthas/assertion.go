package oauthas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/store"
)

// The RFC 7523 client authentication method and assertion type.
const (
	clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// maxAssertionBytes bounds a client assertion (and an ID-JAG): real
	// ones are under 2 KiB.
	maxAssertionBytes = 8 << 10
	// maxAssertionLifetime bounds how far ahead an assertion's exp may be,
	// and so how long its jti is remembered.
	maxAssertionLifetime = time.Hour
	assertionLeeway      = 30 * time.Second
)

// authenticateAssertion applies private_key_jwt (RFC 7523 §2.2, OpenID
// Connect Core §9): the client signs a short JWT with its private key; its
// iss and sub are the client id, aud this server, exp near, and its jti
// is accepted once. The keys are the client's registered JWKS (jwks, or
// the document at jwks_uri).
func (s *Server) authenticateAssertion(r *http.Request) (*registration.Client, error) {
	f := r.PostForm
	unauthorized := func(desc string) error { return &TokenError{http.StatusUnauthorized, "invalid_client", desc} }
	_, _, basic := r.BasicAuth()
	switch {
	case f.Get("client_assertion_type") != clientAssertionType:
		return nil, unauthorized("client_assertion_type must be " + clientAssertionType)
	case len(f["client_assertion"]) != 1 || len(f["client_assertion_type"]) != 1:
		return nil, Refuse("invalid_request", "send client_assertion and client_assertion_type once each")
	case basic || f.Has("client_secret"):
		return nil, Refuse("invalid_request", "use one client authentication method: an assertion and a secret were both sent")
	case len(f.Get("client_assertion")) > maxAssertionBytes:
		return nil, unauthorized(fmt.Sprintf("the client assertion is longer than %d bytes", maxAssertionBytes))
	}
	assertion := f.Get("client_assertion")
	if strings.Count(assertion, ".") != 2 {
		return nil, unauthorized("the client assertion is not a compact JWS (RFC 7523 §2.2)")
	}
	// The client is named by the assertion's iss, read before the
	// signature is checked only to find the keys that check it.
	id, err := unverifiedIssuer(assertion)
	if err != nil {
		return nil, unauthorized(err.Error())
	}
	if cid := f.Get("client_id"); cid != "" && cid != id {
		return nil, unauthorized("client_id differs from the assertion's iss")
	}
	ctx := r.Context()
	client, err := s.Resolver.Client(ctx, id)
	if errors.Is(err, store.ErrUnavailable) {
		return nil, unavailable()
	}
	if err != nil {
		return nil, unauthorized("client authentication failed")
	}
	if client.Metadata.TokenEndpointAuthMethod != registration.PrivateKeyJWT {
		return nil, unauthorized(fmt.Sprintf("the client registered token_endpoint_auth_method %q, not private_key_jwt", client.Metadata.TokenEndpointAuthMethod))
	}
	set, err := clientKeySet(ctx, s.Resolver, client)
	if err != nil {
		return nil, unauthorized(err.Error())
	}
	now := s.now()
	tok, err := jwt.Parse([]byte(assertion),
		jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true), jws.WithRequireKid(false)),
		jwt.WithValidate(true), jwt.WithClock(jwt.ClockFunc(s.now)), jwt.WithAcceptableSkew(assertionLeeway),
		jwt.WithIssuer(id), jwt.WithSubject(id), jwt.WithRequiredClaim("exp"), jwt.WithRequiredClaim("jti"),
		jwt.WithValidator(audienceOneOf(s.assertionAudiences())))
	if err != nil {
		return nil, unauthorized("the client assertion is not valid: " + err.Error())
	}
	if tok.Expiration().After(now.Add(maxAssertionLifetime)) {
		return nil, unauthorized(fmt.Sprintf("the client assertion expires more than %s from now", maxAssertionLifetime))
	}
	if err := s.Once(ctx, "client-assertion:"+id, tok.JwtID(), tok.Expiration()); err != nil {
		if errors.Is(err, errReplayed) {
			return nil, unauthorized("the client assertion (jti " + tok.JwtID() + ") was already used")
		}
		return nil, err
	}
	return client, nil
}

// AssertionAlgorithms are the private_key_jwt signature algorithms
// accepted: each asymmetric one, as the client's key fits it (HMAC and
// none never; a client JWKS with a symmetric key is refused).
var AssertionAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

var errReplayed = errors.New("replayed")

// Once records the single use of an assertion's jti in namespace until
// exp (and a leeway): errReplayed for a second use, a 503 TokenError when
// the store fails. Replicas share it through the store.
func (s *Server) Once(ctx context.Context, namespace, jti string, exp time.Time) error {
	if jti == "" || len(jti) > 256 {
		return Refuse("invalid_grant", "the assertion's jti is missing or longer than 256 bytes")
	}
	err := s.Store.Add(ctx, "jti:"+namespace+":"+jti, []byte{1}, max(exp.Sub(s.now()), 0)+assertionLeeway+grace)
	switch {
	case errors.Is(err, store.ErrExists):
		return errReplayed
	case err != nil:
		return unavailable()
	}
	return nil
}

// IsReplay reports whether err from [Server.Once] is a second use.
func IsReplay(err error) bool { return errors.Is(err, errReplayed) }

func (s *Server) assertionAudiences() []string {
	if len(s.AssertionAudiences) > 0 {
		return s.AssertionAudiences
	}
	return []string{s.Issuer, s.Issuer + "/", s.Issuer + "/token"}
}

// audienceOneOf accepts a JWT whose aud names one of accepted.
func audienceOneOf(accepted []string) jwt.Validator {
	return jwt.ValidatorFunc(func(_ context.Context, t jwt.Token) jwt.ValidationError {
		for _, a := range t.Audience() {
			if slices.Contains(accepted, a) {
				return nil
			}
		}
		return jwt.NewValidationError(fmt.Errorf("aud %q names none of %q", t.Audience(), accepted))
	})
}

// unverifiedIssuer reads the iss of a compact JWS without checking it.
func unverifiedIssuer(compact string) (string, error) {
	msg, err := jws.Parse([]byte(compact))
	if err != nil {
		return "", errors.New("the client assertion is not a compact JWS")
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(msg.Payload(), &c) != nil || c.Iss == "" {
		return "", errors.New("the client assertion has no iss naming the client")
	}
	return c.Iss, nil
}

// clientKeySet returns the client's public keys for private_key_jwt.
// Symmetric keys are refused: with one, a client assertion could be an
// HMAC made with a value that is public.
func clientKeySet(ctx context.Context, res *registration.Resolver, c *registration.Client) (jwk.Set, error) {
	b, err := res.PublicKeys(ctx, c)
	if err != nil {
		return nil, err
	}
	set, err := jwk.Parse(b)
	if err != nil {
		return nil, errors.New("the client's JWKS cannot be parsed")
	}
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		if k.KeyType() == "oct" {
			return nil, errors.New("the client's JWKS holds a symmetric key; private_key_jwt takes public keys only")
		}
		if alg := k.Algorithm().String(); strings.HasPrefix(strings.ToUpper(alg), "HS") || strings.EqualFold(alg, string(jwa.NoSignature)) {
			return nil, fmt.Errorf("the client's JWKS names alg %q; private_key_jwt takes asymmetric algorithms only", alg)
		}
	}
	if set.Len() == 0 {
		return nil, errors.New("the client's JWKS has no keys")
	}
	return set, nil
}
