package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
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
	if v.requireTyp && !strings.EqualFold(h.Typ, "at+jwt") && !strings.EqualFold(h.Typ, "application/at+jwt") {
		return nil, fail(ReasonTypInvalid, "typ %q is not \"at+jwt\" (RFC 9068 §2.1)", h.Typ)
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
		if v, ok := ecdsaVerifiers[alg]; ok {
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

// ecdsaVerifier verifies ES256, ES384 and ES512 signatures (RFC 7518
// §3.4: R and S, each as long as the curve's order, hashed input) with
// crypto/ecdsa, as jwx's verifier does, less what that repeats on every
// call for a key this package already holds as *ecdsa.PublicKey: a copy of
// the key and an on-curve check (crypto/ecdsa refuses a point off its
// curve itself). The key's curve must be the algorithm's.
type ecdsaVerifier struct {
	alg   jwa.SignatureAlgorithm
	curve elliptic.Curve
	size  int // bytes of R, and of S
}

var ecdsaVerifiers = map[string]ecdsaVerifier{
	"ES256": {jwa.ES256, elliptic.P256(), 32},
	"ES384": {jwa.ES384, elliptic.P384(), 48},
	"ES512": {jwa.ES512, elliptic.P521(), 66},
}

var errECDSA = errors.New("the ECDSA signature does not verify")

func (v ecdsaVerifier) Algorithm() jwa.SignatureAlgorithm { return v.alg }

func (v ecdsaVerifier) Verify(input, sig []byte, key any) error {
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != v.curve || len(sig) != 2*v.size {
		return errECDSA
	}
	var digest []byte
	switch v.alg {
	case jwa.ES256:
		d := sha256.Sum256(input)
		digest = d[:]
	case jwa.ES384:
		d := sha512.Sum384(input)
		digest = d[:]
	default:
		d := sha512.Sum512(input)
		digest = d[:]
	}
	var r, s big.Int
	if !ecdsa.Verify(pub, digest, r.SetBytes(sig[:v.size]), s.SetBytes(sig[v.size:])) {
		return errECDSA
	}
	return nil
}
