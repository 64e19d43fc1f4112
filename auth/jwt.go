package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/mcpauth/mcpauth/internal/wire"
)

var b64 = base64.RawURLEncoding.Strict()

// verifyJWT checks a compact JWS access token: structure, algorithm,
// issuer, signature with the issuer's key, then the claims.
func (v *Verifier) verifyJWT(ctx context.Context, raw string) (*Token, error) {
	d1 := strings.IndexByte(raw, '.')
	d2 := d1 + 1 + strings.IndexByte(raw[d1+1:], '.')
	if d2 <= d1 {
		return nil, fail(ReasonTokenMalformed, "expected a JWT of three dot-separated parts")
	}
	if extra := strings.Count(raw[d2+1:], "."); extra > 0 {
		if extra == 2 {
			return nil, fail(ReasonTokenMalformed, "got an encrypted JWT (JWE, five parts) where a signed JWT (JWS, three parts) was expected")
		}
		return nil, fail(ReasonTokenMalformed, "expected a JWT of three dot-separated parts, got %d", extra+3)
	}

	// One buffer holds the token and, after it, its decoded header,
	// payload and signature: the signing input, and the bytes the claims'
	// strings share (wire.Object), in one allocation.
	buf := make([]byte, len(raw), len(raw)+b64.DecodedLen(d1)+b64.DecodedLen(d2-d1-1)+b64.DecodedLen(len(raw)-d2-1))
	copy(buf, raw)
	input := buf[:d2]
	var hdr wire.Object // read here only: no allocation
	buf, err := decodeInto(&hdr, buf, buf[:d1], "JOSE header")
	if err != nil {
		return nil, err
	}

	// Only alg, kid, typ, cty, enc and crit are read. jku, x5u, jwk and x5c
	// are ignored: keys come only from the trusted issuer's key set.
	var h struct{ Alg, Kid, Typ, Cty, Enc string }
	for _, p := range [...]struct {
		name string
		dst  *string
	}{{"alg", &h.Alg}, {"kid", &h.Kid}, {"typ", &h.Typ}, {"cty", &h.Cty}, {"enc", &h.Enc}} {
		if *p.dst, err = headerString(&hdr, p.name); err != nil {
			return nil, err
		}
	}
	_, _, crit := hdr.String("crit")
	switch {
	case h.Enc != "":
		return nil, fail(ReasonTokenMalformed, "the header has \"enc\": an encrypted token where a signed one was expected")
	case strings.EqualFold(h.Cty, "JWT"):
		return nil, fail(ReasonTokenMalformed, "nested JWTs (cty \"JWT\") are not accepted")
	case crit:
		return nil, fail(ReasonTokenMalformed, "the header lists critical extensions (crit) this server does not understand")
	}
	alg, ok := v.algs[h.Alg]
	if !ok {
		return nil, v.algorithmError(h.Alg)
	}
	if v.typ != "" && !strings.EqualFold(strings.TrimPrefix(strings.ToLower(h.Typ), "application/"), v.typ) {
		return nil, fail(ReasonTypInvalid, "typ %q is not %q (RFC 8725 §3.11: a JWT of another kind is not accepted as this one)", h.Typ, v.typ)
	}

	// The Token and its claims are one allocation.
	jt := new(jwtToken)
	claims := &jt.claims
	if buf, err = decodeInto(claims, buf, buf[d1+1:d2], "payload"); err != nil {
		return nil, err
	}
	n := len(buf)
	buf, err = b64.AppendDecode(buf, buf[d2+1:len(raw)])
	sig := buf[n:]
	if err != nil || len(sig) == 0 {
		return nil, fail(ReasonTokenMalformed, "the signature is not unpadded base64url")
	}

	iss, _, _ := claims.String("iss")
	is := v.issuers[iss]
	if is == nil {
		return nil, untrusted(v.trusted, iss)
	}
	ks := is.keys.Load()
	if ks == nil {
		return nil, fail(ReasonKeysetUnavailable, "the metadata of issuer %q has not been discovered yet (VerifierConfig.LazyDiscovery retries it); retry later", iss)
	}
	keys, err := ks.verifyKeys(ctx, h.Kid, h.Alg)
	if err != nil {
		return nil, err
	}
	verified := false
	for _, k := range keys {
		if alg.Verify(input, sig, k.raw) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, fail(ReasonSignatureInvalid, "the %s signature does not verify with the issuer's key %q", h.Alg, h.Kid)
	}
	return v.checkClaims(&jt.Token, claims, is, raw)
}

// decodeInto base64url-decodes seg, a part of the token held in buf, onto
// the end of buf (whose capacity has room for it), and parses its JSON
// object into o; it returns buf grown by the decoded bytes.
func decodeInto(o *wire.Object, buf, seg []byte, what string) ([]byte, error) {
	n := len(buf)
	buf, err := b64.AppendDecode(buf, seg)
	if err != nil {
		return buf, fail(ReasonTokenMalformed, "the %s is not unpadded base64url", what)
	}
	if !o.Parse(buf[n:]) {
		return buf, fail(ReasonTokenMalformed, "the %s is not a JSON object", what)
	}
	return buf, nil
}

// jwtToken is a Token verified from a JWT with the claims it keeps.
type jwtToken struct {
	Token
	claims wire.Object
}

func (v *Verifier) algorithmError(alg string) *Error {
	switch {
	case strings.EqualFold(alg, "none"):
		return fail(ReasonAlgorithmNotAllowed, "alg %q: unsigned tokens are never accepted", alg)
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return fail(ReasonAlgorithmNotAllowed, "alg %q: HMAC tokens are never accepted by a resource server, which holds only public keys", alg)
	case alg == "":
		return fail(ReasonAlgorithmNotAllowed, "the header has no alg")
	}
	return fail(ReasonAlgorithmNotAllowed, "alg %q is not in the allowlist %s", alg, quoteAll(v.algList))
}

// newAlgorithms returns a jwx signature verifier for each allowed algorithm,
// refusing none and HMAC whatever the configuration says.
func newAlgorithms(algs []string) (map[string]jws.Verifier, error) {
	out := make(map[string]jws.Verifier, len(algs))
	for _, alg := range algs {
		if strings.EqualFold(alg, "none") || strings.HasPrefix(strings.ToUpper(alg), "HS") {
			return nil, fail(ReasonAlgorithmNotAllowed, "VerifierConfig.Algorithms: %q is never allowed for access tokens verified with public keys", alg)
		}
		if v, ok := stdVerifiers[alg]; ok {
			out[alg] = v
			continue
		}
		v, err := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
		if err != nil {
			return nil, fail(ReasonAlgorithmNotAllowed, "VerifierConfig.Algorithms: %q is not a JWS algorithm jwx supports", alg)
		}
		out[alg] = v
	}
	return out, nil
}

// The signature verifiers of the JWS algorithms (RFC 7518 §3.3-3.5, RFC
// 8037): crypto/rsa, crypto/ecdsa and crypto/ed25519 called as jwx's
// verifiers call them, less what those repeat on every call for a key this
// package already holds in its crypto type: a conversion and copy of the
// key, a hash object allocated per call, and (ECDSA) an on-curve check,
// which crypto/ecdsa makes itself. TestVerifiersAgreeWithJWX holds them to
// jwx's answers.
var stdVerifiers = map[string]jws.Verifier{
	"RS256": rsaVerifier{crypto.SHA256, false},
	"RS384": rsaVerifier{crypto.SHA384, false},
	"RS512": rsaVerifier{crypto.SHA512, false},
	"PS256": rsaVerifier{crypto.SHA256, true},
	"PS384": rsaVerifier{crypto.SHA384, true},
	"PS512": rsaVerifier{crypto.SHA512, true},
	"ES256": ecdsaVerifier{crypto.SHA256, elliptic.P256(), 32},
	"ES384": ecdsaVerifier{crypto.SHA384, elliptic.P384(), 48},
	"ES512": ecdsaVerifier{crypto.SHA512, elliptic.P521(), 66},
	"EdDSA": eddsaVerifier{},
}

var errSignature = errors.New("the signature does not verify")

// digest hashes input with h (SHA-256, -384 or -512) on the stack.
func digest(h crypto.Hash, input []byte, out *[64]byte) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(input)
		return append(out[:0], d[:]...)
	case crypto.SHA384:
		d := sha512.Sum384(input)
		return append(out[:0], d[:]...)
	default:
		d := sha512.Sum512(input)
		return append(out[:0], d[:]...)
	}
}

// rsaVerifier verifies RS* (PKCS #1 v1.5) and PS* (PSS, any salt length,
// as jwx) signatures.
type rsaVerifier struct {
	hash crypto.Hash
	pss  bool
}

func (v rsaVerifier) Verify(input, sig []byte, key any) error {
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return errSignature
	}
	var buf [64]byte
	d := digest(v.hash, input, &buf)
	if v.pss {
		return rsa.VerifyPSS(pub, v.hash, d, sig, nil)
	}
	return rsa.VerifyPKCS1v15(pub, v.hash, d, sig)
}

// eddsaVerifier verifies Ed25519 signatures.
type eddsaVerifier struct{}

func (eddsaVerifier) Verify(input, sig []byte, key any) error {
	pub, ok := key.(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, input, sig) {
		return errSignature
	}
	return nil
}

// ecdsaVerifier verifies ES256, ES384 and ES512 signatures: R and S, each
// as long as the curve's order, of the hashed input. The key's curve must
// be the algorithm's.
type ecdsaVerifier struct {
	hash  crypto.Hash
	curve elliptic.Curve
	size  int // bytes of R, and of S
}

func (v ecdsaVerifier) Verify(input, sig []byte, key any) error {
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != v.curve || len(sig) != 2*v.size {
		return errSignature
	}
	var buf [64]byte
	var r, s big.Int
	if !ecdsa.Verify(pub, digest(v.hash, input, &buf), r.SetBytes(sig[:v.size]), s.SetBytes(sig[v.size:])) {
		return errSignature
	}
	return nil
}
