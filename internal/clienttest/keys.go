package clienttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/mcpauth/mcpauth/internal/randid"
)

// Key is a client's P-256 key pair: it signs DPoP proofs (RFC 9449) and
// private_key_jwt client assertions (RFC 7523), as oauth4webapi and the
// TypeScript SDK do.
type Key struct {
	Private *ecdsa.PrivateKey
	priv    jwk.Key
	pub     jwk.Key
	// JKT is the RFC 7638 thumbprint of the public key, base64url: the
	// cnf.jkt of the tokens bound to it.
	JKT string
}

// NewKey makes a key pair; it panics if the system has no randomness.
func NewKey() *Key {
	p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	priv, _ := jwk.FromRaw(p)
	pub, _ := jwk.PublicKeyOf(priv)
	tp, _ := pub.Thumbprint(crypto.SHA256)
	_ = priv.Set(jwk.KeyIDKey, base64.RawURLEncoding.EncodeToString(tp[:8]))
	_ = pub.Set(jwk.KeyIDKey, base64.RawURLEncoding.EncodeToString(tp[:8]))
	return &Key{Private: p, priv: priv, pub: pub, JKT: base64.RawURLEncoding.EncodeToString(tp)}
}

// KID is the key id its JWKS names it by.
func (k *Key) KID() string { return k.pub.KeyID() }

// PrivateJWK is the private key as a JWK, for a hostile proof that
// carries it in its header.
func (k *Key) PrivateJWK() map[string]any {
	b, _ := json.Marshal(k.priv)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// JWKS is the public key as a JSON Web Key Set, as a client registers it.
func (k *Key) JWKS() map[string]any {
	b, _ := json.Marshal(k.pub)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return map[string]any{"keys": []any{m}}
}

// Proof signs a DPoP proof for a request with method to htu, carrying
// accessToken's hash ("" at a token endpoint) and nonce ("" for none).
// edit, when set, changes the header and claims before signing, for
// hostile proofs.
func (k *Key) Proof(method, htu, accessToken, nonce string, edit func(header, claims map[string]any)) string {
	claims := map[string]any{"jti": randid.New(12), "htm": method, "htu": htu, "iat": time.Now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	var pub map[string]any
	b, _ := json.Marshal(k.pub)
	_ = json.Unmarshal(b, &pub)
	delete(pub, "kid")
	header := map[string]any{"typ": "dpop+jwt", "jwk": pub}
	if edit != nil {
		edit(header, claims)
	}
	return k.sign(header, claims)
}

// Assertion signs a private_key_jwt client assertion of clientID for aud
// (the authorization server's issuer), valid for a minute. edit, when set,
// changes the claims before signing.
func (k *Key) Assertion(clientID, aud string, edit func(claims map[string]any)) string {
	now := time.Now()
	claims := map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": randid.New(12), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	if edit != nil {
		edit(claims)
	}
	return k.sign(map[string]any{"kid": k.pub.KeyID()}, claims)
}

func (k *Key) sign(header, claims map[string]any) string {
	payload, _ := json.Marshal(claims)
	h := jws.NewHeaders()
	alg := jwa.ES256
	for name, v := range header {
		switch name {
		case "alg":
			alg = jwa.SignatureAlgorithm(v.(string))
		case "jwk":
			b, _ := json.Marshal(v)
			key, err := jwk.ParseKey(b)
			if err != nil {
				panic(err)
			}
			_ = h.Set(name, key)
		default:
			if err := h.Set(name, v); err != nil {
				panic(err)
			}
		}
	}
	if alg == jwa.NoSignature { // unsigned: header and payload, empty signature
		_ = h.Set("alg", "none")
		hb, _ := json.Marshal(h)
		return base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	}
	var key any = k.priv
	if alg == jwa.HS256 { // algorithm confusion: the public key's JSON as the HMAC secret
		b, _ := json.Marshal(k.pub)
		key = b
	}
	tok, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		panic(err)
	}
	return string(tok)
}
