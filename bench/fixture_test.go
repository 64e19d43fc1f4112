package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

const resource = "https://mcp.example.com/mcp"

// issuer is an authorization server fixture over loopback HTTP: OpenID and
// RFC 8414 metadata and a JWKS with an RSA, an EC and an Ed25519 key, and
// signing for each. It counts JWKS fetches and can rotate in a new RSA key.
type issuer struct {
	srv     *httptest.Server
	url     string
	mu      sync.Mutex
	keys    map[string]signer // by kid
	order   []string          // published kids
	fetches atomic.Int64
}

type signer struct {
	alg     jwa.SignatureAlgorithm
	private jwk.Key
	public  jwk.Key
	raw     any // public key for the raw-crypto reference
}

func newIssuer(tb testing.TB) *issuer {
	tb.Helper()
	is := &issuer{keys: map[string]signer{}}
	mux := http.NewServeMux()
	meta := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.url, "jwks_uri": is.url + "/jwks",
			"authorization_endpoint": is.url + "/authorize", "token_endpoint": is.url + "/token",
			"code_challenge_methods_supported": []string{"S256"}, "id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"}})
	}
	mux.HandleFunc("/.well-known/openid-configuration", meta)
	mux.HandleFunc("/.well-known/oauth-authorization-server", meta)
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		set := jwk.NewSet()
		is.mu.Lock()
		for _, kid := range is.order {
			set.AddKey(is.keys[kid].public)
		}
		is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	})
	is.srv = httptest.NewServer(mux)
	is.url = is.srv.URL
	tb.Cleanup(is.srv.Close)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	is.add("rs-1", jwa.RS256, rsaKey, &rsaKey.PublicKey)
	is.add("es-1", jwa.ES256, ecKey, &ecKey.PublicKey)
	is.add("ed-1", jwa.EdDSA, edKey, edPub)
	return is
}

func (is *issuer) add(kid string, alg jwa.SignatureAlgorithm, private, public any) {
	priv, _ := jwk.FromRaw(private)
	priv.Set(jwk.KeyIDKey, kid)
	pub, _ := jwk.PublicKeyOf(priv)
	pub.Set(jwk.AlgorithmKey, alg)
	pub.Set(jwk.KeyUsageKey, "sig")
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys[kid] = signer{alg: alg, private: priv, public: pub, raw: public}
	is.order = append(is.order, kid)
}

// rotate publishes a new RSA key and returns its kid.
func (is *issuer) rotate() string {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	kid := fmt.Sprintf("rs-%d", time.Now().UnixNano())
	is.add(kid, jwa.RS256, k, &k.PublicKey)
	return kid
}

// token signs a valid access token for resource under kid.
func (is *issuer) token(tb testing.TB, kid string, extra map[string]any) string {
	tb.Helper()
	is.mu.Lock()
	k := is.keys[kid]
	is.mu.Unlock()
	now := time.Now()
	claims := map[string]any{"iss": is.url, "sub": "user-1", "aud": resource, "exp": now.Add(time.Hour).Unix(),
		"iat": now.Unix(), "client_id": "bench", "scope": "notes:read notes:write", "jti": fmt.Sprint(now.UnixNano())}
	for key, v := range extra {
		claims[key] = v
	}
	payload, _ := json.Marshal(claims)
	h := jws.NewHeaders()
	h.Set(jws.KeyIDKey, kid)
	h.Set(jws.TypeKey, "at+jwt")
	tok, err := jws.Sign(payload, jws.WithKey(k.alg, k.private, jws.WithProtectedHeaders(h)))
	if err != nil {
		tb.Fatal(err)
	}
	return string(tok)
}

var algs = []struct {
	name string
	kid  string
}{{"RS256", "rs-1"}, {"ES256", "es-1"}, {"EdDSA", "ed-1"}}

// rawVerify is the floor: the signature check alone with the key in hand.
func rawVerify(alg string, pub any, input, sig []byte) bool {
	switch alg {
	case "RS256":
		sum := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, sum[:], sig) == nil
	case "ES256":
		sum := sha256.Sum256(input)
		if len(sig) != 64 {
			return false
		}
		var r, s bigInt
		return ecdsaVerify(pub.(*ecdsa.PublicKey), sum[:], sig, &r, &s)
	case "EdDSA":
		return ed25519.Verify(pub.(ed25519.PublicKey), input, sig)
	}
	return false
}
