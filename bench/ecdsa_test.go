package bench

import (
	"crypto/ecdsa"
	"math/big"
)

type bigInt = big.Int

// ecdsaVerify checks a JWS ES256 signature (r || s, 32 bytes each).
func ecdsaVerify(pub *ecdsa.PublicKey, hash, sig []byte, r, s *big.Int) bool {
	r.SetBytes(sig[:32])
	s.SetBytes(sig[32:])
	return ecdsa.Verify(pub, hash, r, s)
}
