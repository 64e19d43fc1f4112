package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Signing keys are made once per test binary: RSA generation is slow under -race.
var (
	keysOnce sync.Once
	rsaKeys  []*rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
	edKey    ed25519.PrivateKey
)

func testKeys() {
	keysOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys = append(rsaKeys, k)
		}
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, edKey, _ = ed25519.GenerateKey(rand.Reader)
	})
}

// signingKey is a private key the test authorization server signs with.
type signingKey struct {
	kid     string
	alg     jwa.SignatureAlgorithm
	private jwk.Key
	public  jwk.Key
}

func newSigningKey(t testing.TB, kid string, alg jwa.SignatureAlgorithm, raw any, withAlg bool) signingKey {
	t.Helper()
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = priv.Set(jwk.KeyIDKey, kid)
	pub, err := jwk.PublicKeyOf(priv)
	if err != nil {
		t.Fatal(err)
	}
	if withAlg {
		_ = pub.Set(jwk.AlgorithmKey, alg)
	}
	_ = pub.Set(jwk.KeyUsageKey, "sig")
	return signingKey{kid: kid, alg: alg, private: priv, public: pub}
}

// testAS is a minimal authorization server over real HTTP: RFC 8414
// metadata and a JWKS whose keys and failure mode the test controls. It
// counts key set fetches.
type testAS struct {
	t      testing.TB
	srv    *httptest.Server
	issuer string

	mu        sync.Mutex
	published []signingKey
	keys      map[string]signingKey // every key it can sign with, by kid
	mode      string                // "", "500", "garbage", "hang"
	hang      chan struct{}

	jwksHits atomic.Int64
	now      func() time.Time
}

func newTestAS(t testing.TB) *testAS {
	t.Helper()
	testKeys()
	as := &testAS{t: t, keys: map[string]signingKey{}, hang: make(chan struct{}), now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q,"token_endpoint":%q,"code_challenge_methods_supported":["S256"]}`,
			as.issuer, as.srv.URL+"/jwks", as.srv.URL+"/token")
	})
	mux.HandleFunc("/jwks", as.serveJWKS)
	as.srv = httptest.NewServer(mux)
	as.issuer = as.srv.URL
	t.Cleanup(func() {
		as.mu.Lock()
		if as.mode == "hang" {
			close(as.hang)
			as.mode = ""
		}
		as.mu.Unlock()
		as.srv.Close()
	})
	as.publish(newSigningKey(t, "rsa-1", jwa.RS256, rsaKeys[0], true))
	as.publish(newSigningKey(t, "ec-1", jwa.ES256, ecKey, true))
	as.publish(newSigningKey(t, "ed-1", jwa.EdDSA, edKey, false)) // no alg: matched by key type
	return as
}

func (as *testAS) serveJWKS(w http.ResponseWriter, r *http.Request) {
	as.jwksHits.Add(1)
	as.mu.Lock()
	mode := as.mode
	set := jwk.NewSet()
	for _, k := range as.published {
		_ = set.AddKey(k.public)
	}
	hang := as.hang
	as.mu.Unlock()
	switch mode {
	case "500":
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	case "garbage":
		w.Write([]byte("<html>not json"))
		return
	case "hang":
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(set)
}

// publish adds k to the served key set (and to the keys the AS signs with).
func (as *testAS) publish(k signingKey) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.published = append(as.published, k)
	as.keys[k.kid] = k
}

// addSigner makes k available for signing without publishing it.
func (as *testAS) addSigner(k signingKey) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.keys[k.kid] = k
}

func (as *testAS) setMode(m string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.mode == "hang" && m != "hang" {
		close(as.hang)
		as.hang = make(chan struct{})
	}
	as.mode = m
}

// claims returns a valid claim set for resource with the given scope.
func (as *testAS) claims(resource, scope string) map[string]any {
	now := as.now()
	return map[string]any{
		"iss":       as.issuer,
		"sub":       "user-123",
		"aud":       resource,
		"exp":       now.Add(time.Hour).Unix(),
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"jti":       "jti-1",
		"client_id": "client-abc",
		"scope":     scope,
	}
}

// mint signs claims with the key kid, with extra protected headers.
func (as *testAS) mint(kid string, claims map[string]any, headers map[string]any) string {
	as.t.Helper()
	as.mu.Lock()
	k, ok := as.keys[kid]
	as.mu.Unlock()
	if !ok {
		as.t.Fatalf("no signing key %q", kid)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		as.t.Fatal(err)
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.KeyIDKey, kid)
	_ = h.Set(jws.TypeKey, "at+jwt")
	for name, v := range headers {
		if v == nil {
			_ = h.Remove(name)
			continue
		}
		_ = h.Set(name, v)
	}
	tok, err := jws.Sign(payload, jws.WithKey(k.alg, k.private, jws.WithProtectedHeaders(h)))
	if err != nil {
		as.t.Fatal(err)
	}
	return string(tok)
}

// unsigned builds a compact JWS with the given header and payload and an
// arbitrary signature segment, for tokens no library would produce.
func unsigned(header, payload map[string]any, sig []byte) string {
	hb, _ := json.Marshal(header)
	pb, _ := json.Marshal(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(hb) + "." + enc.EncodeToString(pb) + "." + enc.EncodeToString(sig)
}

func segment(tok string, i int) string { return strings.Split(tok, ".")[i] }
