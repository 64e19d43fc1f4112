package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/auth/authtest"
)

// testAS is the authorization server of the auth tests: auth/authtest's,
// with three published keys of the algorithm families the verifier
// accepts (rsa-1 RS256, ec-1 ES256, ed-1 EdDSA published without alg, so
// it is matched by key type), a settable clock for the claims it writes,
// and the key set's failure modes.
type testAS struct {
	*authtest.Server
	t   testing.TB
	now func() time.Time
}

// sharedRSAKey is made once per test binary: RSA generation is slow under
// -race, and every test server has an rsa-1.
var sharedRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newTestAS(t testing.TB) *testAS {
	t.Helper()
	s := authtest.Start(authtest.Options{KeyAlgorithm: "ES256"})
	t.Cleanup(s.Close)
	as := &testAS{Server: s, t: t, now: time.Now}
	as.newKey(authtest.KeyOptions{KeyID: "rsa-1", Algorithm: "RS256", Private: sharedRSAKey()})
	as.newKey(authtest.KeyOptions{KeyID: "ec-1", Algorithm: "ES256"})
	as.newKey(authtest.KeyOptions{KeyID: "ed-1", Algorithm: "EdDSA", OmitAlg: true})
	return as
}

// newKey makes a key, failing the test if it cannot.
func (as *testAS) newKey(o authtest.KeyOptions) {
	as.t.Helper()
	if _, err := as.NewKey(o); err != nil {
		as.t.Fatal(err)
	}
}

// publish adds an unpublished key to the key set.
func (as *testAS) publish(kid string) {
	as.t.Helper()
	if err := as.PublishKey(kid); err != nil {
		as.t.Fatal(err)
	}
}

// claims returns a valid claim set for resource with the given scope.
func (as *testAS) claims(resource, scope string) map[string]any {
	now := as.now()
	return map[string]any{
		"iss":       as.URL,
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
	return as.SignClaims(kid, claims, headers)
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

// protect is the handler tests put in front of h: the metadata and the
// middleware, without an operation lookup.
func protect(a *auth.Authenticator, h http.Handler) http.Handler { return a.Protect(h, nil) }
