package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// The ES verifiers agree with jwx's: every signature jwx makes verifies,
// and a signature altered, truncated, of another curve's key, or checked
// with a key that is not ECDSA, does not.
func TestECDSAVerifierAgreesWithJWX(t *testing.T) {
	input := []byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0")
	for alg, curve := range map[jwa.SignatureAlgorithm]elliptic.Curve{jwa.ES256: elliptic.P256(), jwa.ES384: elliptic.P384(), jwa.ES512: elliptic.P521()} {
		key, _ := ecdsa.GenerateKey(curve, rand.Reader)
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if curve == elliptic.P256() {
			other, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		}
		signer, _ := jws.NewSigner(alg)
		v := ecdsaVerifiers[alg.String()]
		theirs, _ := jws.NewVerifier(alg)
		for range 20 {
			sig, err := signer.Sign(input, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(input, sig, &key.PublicKey); err != nil {
				t.Fatalf("%s: a valid signature refused: %v", alg, err)
			}
			if theirs.Verify(input, sig, &key.PublicKey) != nil {
				t.Fatalf("%s: jwx refuses its own signature", alg)
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)/2] ^= 1
			for name, c := range map[string]struct {
				sig []byte
				key any
			}{
				"altered":          {bad, &key.PublicKey},
				"truncated":        {sig[:len(sig)-1], &key.PublicKey},
				"another input":    {sig, &key.PublicKey},
				"another curve":    {sig, &other.PublicKey},
				"not an ECDSA key": {sig, []byte("secret")},
				"nil key":          {sig, nil},
			} {
				in := input
				if name == "another input" {
					in = append([]byte(nil), input...)
					in[0] ^= 1
				}
				if v.Verify(in, c.sig, c.key) == nil {
					t.Fatalf("%s: %s signature accepted", alg, name)
				}
			}
		}
	}
}
