package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/mcpauth/mcpauth/internal/randid"
)

// KeyOptions describes a signing key for [Server.NewKey].
type KeyOptions struct {
	// Algorithm is the JWS algorithm the key signs with: RS256, RS384,
	// RS512, PS256, PS384, PS512 (RSA 2048), ES256, ES384, ES512 (P-256,
	// P-384, P-521) or EdDSA (Ed25519). "" means RS256.
	Algorithm string
	// KeyID is the kid; "" makes one up.
	KeyID string
	// Unpublished keeps the key out of the key set: tokens signed with it
	// fail as signed by an unknown key.
	Unpublished bool
	// OmitAlg publishes the key without "alg", as some servers do, so that
	// verifiers must match it to a token by key type and curve.
	OmitAlg bool
	// Private, when set, is the key to use (*rsa.PrivateKey,
	// *ecdsa.PrivateKey or ed25519.PrivateKey, matching Algorithm) instead
	// of a new one: tests that start many servers can make slow RSA keys
	// once.
	Private crypto.Signer
}

// signer is a private key the server can sign with.
type signer struct {
	alg     jwa.SignatureAlgorithm
	private jwk.Key
	public  jwk.Key
}

// NewKey makes a signing key as o describes and returns its kid. Tokens are
// signed with it when a [TokenRequest] or [Server.SignClaims] names it; the
// server's own flows keep signing with the current key of [Server.RotateKey].
func (s *Server) NewKey(o KeyOptions) (string, error) {
	k, err := newSigner(o)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.signers[k.private.KeyID()]; dup {
		return "", fmt.Errorf("authtest: a key with kid %q exists", o.KeyID)
	}
	s.signers[k.private.KeyID()] = k
	if !o.Unpublished {
		s.public = append(s.public, k.public)
	}
	return k.private.KeyID(), nil
}

// PublishKey adds an unpublished key (see [KeyOptions]) to the key set, as
// a rotation that announces a key after its first use would.
func (s *Server) PublishKey(kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.signers[kid]
	if !ok {
		return fmt.Errorf("authtest: no key %q", kid)
	}
	if !slices.ContainsFunc(s.public, func(p jwk.Key) bool { return p.KeyID() == kid }) {
		s.public = append(s.public, k.public)
	}
	return nil
}

// PublicKey returns the public key of kid (*rsa.PublicKey,
// *ecdsa.PublicKey or ed25519.PublicKey), or nil.
func (s *Server) PublicKey(kid string) crypto.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.signers[kid]
	if !ok {
		return nil
	}
	var raw any
	if err := k.public.Raw(&raw); err != nil {
		return nil
	}
	return raw
}

func newSigner(o KeyOptions) (*signer, error) {
	if o.Algorithm == "" {
		o.Algorithm = "RS256"
	}
	var raw any = o.Private
	var err error
	switch o.Algorithm {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		if raw == nil {
			raw, err = rsa.GenerateKey(rand.Reader, 2048)
		}
		_, ok := raw.(*rsa.PrivateKey)
		err = keyTypeError(err, ok, o.Algorithm)
	case "ES256", "ES384", "ES512":
		curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[o.Algorithm]
		if raw == nil {
			raw, err = ecdsa.GenerateKey(curve, rand.Reader)
		}
		k, ok := raw.(*ecdsa.PrivateKey)
		err = keyTypeError(err, ok && k.Curve == curve, o.Algorithm)
	case "EdDSA":
		if raw == nil {
			_, raw, err = ed25519.GenerateKey(rand.Reader)
		}
		_, ok := raw.(ed25519.PrivateKey)
		err = keyTypeError(err, ok, o.Algorithm)
	default:
		return nil, fmt.Errorf("authtest: algorithm %q is not one a resource server verifies", o.Algorithm)
	}
	if err != nil {
		return nil, err
	}
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	if o.KeyID == "" {
		o.KeyID = "authtest-" + randid.New(6)
	}
	alg := jwa.SignatureAlgorithm(o.Algorithm)
	_ = priv.Set(jwk.KeyIDKey, o.KeyID)
	_ = priv.Set(jwk.AlgorithmKey, alg)
	pub, err := jwk.PublicKeyOf(priv)
	if err != nil {
		return nil, err
	}
	if o.OmitAlg {
		_ = pub.Remove(jwk.AlgorithmKey)
	}
	_ = pub.Set(jwk.KeyUsageKey, "sig")
	return &signer{alg: alg, private: priv, public: pub}, nil
}

// keyTypeError is err, or the error of a given key that does not suit alg.
func keyTypeError(err error, suits bool, alg string) error {
	if err == nil && !suits {
		return fmt.Errorf("authtest: KeyOptions.Private is not a key for %s", alg)
	}
	return err
}

// JWKSFailure makes the key set endpoint misbehave, to test verifiers.
type JWKSFailure int32

// The JWKS failure modes.
const (
	JWKSOK      JWKSFailure = iota // serve the keys
	JWKSError                      // answer 500
	JWKSStall                      // never answer until the request is cancelled
	JWKSGarbage                    // answer 200 with a body that is not JSON
)

// RotateKey makes a new signing key (of Options.KeyAlgorithm), publishes it
// beside the old ones and signs with it from now on. It returns the new kid.
func (s *Server) RotateKey() (string, error) {
	k, err := newSigner(KeyOptions{Algorithm: s.opts.KeyAlgorithm})
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signing = k
	s.signers[k.private.KeyID()] = k
	s.public = append(s.public, k.public)
	return k.private.KeyID(), nil
}

// RetireOldKeys unpublishes every key but the current one: tokens signed
// before the last rotation stop verifying.
func (s *Server) RetireOldKeys() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.public = s.public[len(s.public)-1:]
}

// SetJWKSFailure makes the JWKS endpoint fail as mode says, until set back
// to JWKSOK.
func (s *Server) SetJWKSFailure(mode JWKSFailure) {
	old := JWKSFailure(s.jwksMode.Swap(int32(mode)))
	if old == JWKSStall && mode != JWKSStall {
		s.mu.Lock()
		close(s.stall)
		s.stall = make(chan struct{})
		s.mu.Unlock()
	}
}

// JWKSFetches counts requests to the JWKS endpoint.
func (s *Server) JWKSFetches() int64 { return s.jwksFetches.Load() }

// JWKS returns the published key set as the /jwks endpoint serves it: a
// JWKS document to pin with auth.NewStaticKeySet.
func (s *Server) JWKS() []byte {
	b, err := json.Marshal(s.publicSet())
	if err != nil {
		panic("authtest: " + err.Error()) // jwx keys always marshal
	}
	return b
}

func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	s.jwksFetches.Add(1)
	switch JWKSFailure(s.jwksMode.Load()) {
	case JWKSError:
		http.Error(w, "key set unavailable", http.StatusInternalServerError)
		return
	case JWKSGarbage:
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>maintenance</html>"))
		return
	case JWKSStall:
		s.mu.Lock()
		stall := s.stall
		s.mu.Unlock()
		select {
		case <-stall:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_ = json.NewEncoder(w).Encode(s.publicSet())
}
