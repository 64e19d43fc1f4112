package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

var testRSA = sync.OnceValue(func() *rsa.PrivateKey { k, _ := rsa.GenerateKey(rand.Reader, 2048); return k })

// The verifiers agree with jwx's: every signature jwx makes verifies (as
// jwx's own verifier says), and a signature altered or truncated, over
// another input, or checked with a key of another kind or curve, does not.
func TestVerifiersAgreeWithJWX(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	keys := map[string]crypto.Signer{"RS256": testRSA(), "RS384": testRSA(), "RS512": testRSA(), "PS256": testRSA(), "PS384": testRSA(), "PS512": testRSA(),
		"ES256": p256, "ES384": p384, "ES512": p521, "EdDSA": ed}
	input := []byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0")
	other := append([]byte(nil), input...)
	other[0] ^= 1
	for alg, key := range keys {
		v := stdVerifiers[alg]
		if v == nil {
			t.Fatalf("no verifier for %s", alg)
		}
		signer, _ := jws.NewSigner(jwa.SignatureAlgorithm(alg))
		theirs, _ := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
		wrongKind := crypto.PublicKey(&p256.PublicKey) // for ES384 and ES512, another curve
		if alg == "ES256" {
			wrongKind = &p384.PublicKey
		}
		for range 5 {
			sig, err := signer.Sign(input, key)
			if err != nil {
				t.Fatal(err)
			}
			pub := key.Public()
			if theirs.Verify(input, sig, pub) != nil {
				t.Fatalf("%s: jwx refuses its own signature", alg)
			}
			if err := v.Verify(input, sig, pub); err != nil {
				t.Fatalf("%s: a valid signature refused: %v", alg, err)
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)/2] ^= 1
			for name, c := range map[string]struct {
				in, sig []byte
				key     any
			}{
				"altered":             {input, bad, pub},
				"truncated":           {input, sig[:len(sig)-1], pub},
				"over another input":  {other, sig, pub},
				"another kind of key": {input, sig, wrongKind},
				"an HMAC secret":      {input, sig, []byte("secret")},
				"no key":              {input, sig, nil},
			} {
				if v.Verify(c.in, c.sig, c.key) == nil {
					t.Fatalf("%s: %s signature accepted", alg, name)
				}
			}
		}
	}
}
