package auth

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/mcpauth/mcpauth/internal/cache"
	"github.com/mcpauth/mcpauth/store"
)

// DPoPConfig turns on DPoP (RFC 9449): access tokens bound to a key the
// client holds, each request carrying a proof signed with it, so a token
// that leaks (a log, a proxy, a compromised tool) is useless without the
// key. Bearer tokens keep working beside DPoP-bound ones unless Required.
type DPoPConfig struct {
	// Required refuses bearer tokens: every request must present a
	// DPoP-bound token with the DPoP scheme and a proof. The protected
	// resource metadata then says dpop_bound_access_tokens_required.
	Required bool

	// Algorithms accepted for proofs. Empty means ES256, ES384, ES512,
	// RS256, PS256 and EdDSA; "none" and HMAC are refused even if listed
	// (a proof is signed with the client's private key).
	Algorithms []string

	// MaxAge is how far a proof's iat may be from now, either way. Zero
	// means one minute.
	MaxAge time.Duration

	// NonceKey, when set (32 bytes or more, the same on every replica),
	// makes proofs carry a nonce this server issued (RFC 9449 §8-9): a
	// proof without a current one is refused with use_dpop_nonce and a
	// fresh nonce in the DPoP-Nonce header, which clients retry with.
	// Nonces bound how long a proof made in advance (by malware holding
	// the key for a while) stays usable. Nonces are stateless (a MAC of
	// the time window), so replicas need nothing shared but the key.
	NonceKey []byte

	// NonceLifetime is how long a nonce is accepted. Zero means 5 minutes.
	NonceLifetime time.Duration

	// Replay remembers the jti of every accepted proof until its iat is too
	// old for it to be accepted again, so a proof is used once (RFC 9449
	// §11.1). Nil means in memory for one replica, at most 100,000 proofs
	// (past that, new proofs are refused with 503 until some expire: replay
	// detection is never skipped); replicas share a store.Store.
	Replay store.Store
}

// DPoPProof is a verified DPoP proof.
type DPoPProof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's key, base64url:
	// what a bound token carries as cnf.jkt.
	JKT string
	// ID is the proof's jti.
	ID string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
}

// DPoPVerifier checks DPoP proofs: the resource side ([Config.DPoP]) and
// an authorization server's token endpoint (package proxy) use it. Build
// it with [NewDPoPVerifier]; it is safe for concurrent use.
type DPoPVerifier struct {
	required bool
	algs     []string
	maxAge   time.Duration
	nonceKey []byte
	nonceTTL time.Duration
	replay   store.Store
	now      func() time.Time

	verifiers map[string]jws.Verifier
	keys      *cache.Cache[*proofKey] // by the jwk header's JSON
}

const (
	defaultDPoPMaxAge    = time.Minute
	defaultNonceLifetime = 5 * time.Minute
	maxDPoPProofBytes    = 8 << 10
	maxDPoPJTIBytes      = 256
	maxDPoPReplay        = 100_000
	maxDPoPKeys          = 10_000
)

var defaultDPoPAlgorithms = []string{"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"}

// NewDPoPVerifier checks cfg and builds the verifier. now is the clock;
// nil means time.Now.
func NewDPoPVerifier(cfg DPoPConfig, now func() time.Time) (*DPoPVerifier, error) {
	d := &DPoPVerifier{required: cfg.Required, algs: cfg.Algorithms, maxAge: orDefault(cfg.MaxAge, defaultDPoPMaxAge),
		nonceTTL: orDefault(cfg.NonceLifetime, defaultNonceLifetime), replay: cfg.Replay, now: now}
	if len(d.algs) == 0 {
		d.algs = defaultDPoPAlgorithms
	}
	for _, a := range d.algs {
		if !slices.Contains(defaultAlgorithms, a) {
			return nil, fmt.Errorf("DPoPConfig.Algorithms: %q is not one of %s: a proof is signed with the client's asymmetric key", a, strings.Join(defaultAlgorithms, " "))
		}
	}
	if cfg.NonceKey != nil {
		if len(cfg.NonceKey) < 32 {
			return nil, errors.New("DPoPConfig.NonceKey must be at least 32 bytes")
		}
		d.nonceKey = slices.Clone(cfg.NonceKey)
	}
	if d.replay == nil {
		d.replay = store.NewMemory(maxDPoPReplay, maxDPoPReplay*(maxDPoPJTIBytes+128))
	}
	if d.now == nil {
		d.now = time.Now
	}
	var err error
	if d.verifiers, err = newAlgorithms(d.algs); err != nil {
		return nil, err
	}
	d.keys = cache.New[*proofKey](cache.Options{MaxEntries: maxDPoPKeys, MaxBytes: maxDPoPKeys * 1024})
	return d, nil
}

// Algorithms are the proof algorithms accepted, for metadata
// (dpop_signing_alg_values_supported).
func (d *DPoPVerifier) Algorithms() []string { return slices.Clone(d.algs) }

// Verify checks proof, the value of a request's one DPoP header, for a
// request with method to htu (the URL the client addressed, as this server
// is known to clients; query and fragment are ignored) and, at a resource,
// the access token it accompanies ("" at a token endpoint, where a proof
// has no ath). Every check of RFC 9449 §4.3 is made: typ dpop+jwt, an
// allowed asymmetric alg, a public jwk in the header that verifies the
// signature, jti, htm, htu, iat within MaxAge, ath, the nonce when nonces
// are on, and jti never seen before. The error is an [*Error]:
// ReasonDPoPProofInvalid, ReasonDPoPNonce (answer with a fresh
// [DPoPVerifier.Nonce]) or, for a replay store that is down or full,
// ReasonDPoPUnavailable (503).
func (d *DPoPVerifier) Verify(ctx context.Context, proof, method, htu, accessToken string) (*DPoPProof, error) {
	invalid := func(format string, args ...any) (*DPoPProof, error) {
		return nil, fail(ReasonDPoPProofInvalid, format, args...)
	}
	if len(proof) > maxDPoPProofBytes {
		return invalid("the DPoP proof is %d bytes, more than %d", len(proof), maxDPoPProofBytes)
	}
	d1 := strings.IndexByte(proof, '.')
	d2 := d1 + 1 + strings.IndexByte(proof[d1+1:], '.')
	if d1 < 0 || d2 <= d1 || strings.IndexByte(proof[d2+1:], '.') >= 0 {
		return invalid("the DPoP header is not a compact JWS of three parts")
	}
	var h struct {
		Typ  string          `json:"typ"`
		Alg  string          `json:"alg"`
		JWK  json.RawMessage `json:"jwk"`
		Crit json.RawMessage `json:"crit"`
	}
	hb, err1 := b64.DecodeString(proof[:d1])
	payload, err2 := b64.DecodeString(proof[d1+1 : d2])
	sig, err3 := b64.DecodeString(proof[d2+1:])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &h) != nil {
		return invalid("the DPoP header is not a compact JWS of base64url JSON")
	}
	verifier, allowed := d.verifiers[h.Alg]
	switch {
	case !strings.EqualFold(h.Typ, "dpop+jwt"):
		return invalid("the proof's typ is %q, expected \"dpop+jwt\"", h.Typ)
	case !allowed:
		return invalid("the proof's alg %q is not one of %s", h.Alg, strings.Join(d.algs, " "))
	case len(h.JWK) == 0:
		return invalid("the proof's header has no jwk")
	case len(h.Crit) > 0:
		return invalid("the proof's header lists critical extensions (crit) this server does not understand")
	}
	key, err := d.publicKey(h.JWK)
	if err != nil {
		return nil, err
	}
	if verifier.Verify([]byte(proof[:d2]), sig, key.raw) != nil {
		return invalid("the proof's signature does not verify with the jwk in its header")
	}
	var c struct {
		JTI   string   `json:"jti"`
		HTM   string   `json:"htm"`
		HTU   string   `json:"htu"`
		IAT   *float64 `json:"iat"`
		ATH   string   `json:"ath"`
		Nonce string   `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return invalid("the proof's claims are not a JSON object of the expected types")
	}
	now := d.now()
	switch {
	case c.JTI == "" || len(c.JTI) > maxDPoPJTIBytes:
		return invalid("the proof's jti is missing or longer than %d bytes", maxDPoPJTIBytes)
	case c.HTM != method:
		return invalid("the proof is for method %q, the request is %q", c.HTM, method)
	case !sameHTU(c.HTU, htu):
		return invalid("the proof is for %q, the request is to %q", stripQuery(c.HTU), htu)
	case c.IAT == nil:
		return invalid("the proof has no iat")
	}
	iat := dateOf(*c.IAT)
	if age := now.Sub(iat); age > d.maxAge || age < -d.maxAge {
		return invalid("the proof was made at %s, now is %s: more than %s apart", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), d.maxAge)
	}
	if accessToken != "" || c.ATH != "" {
		sum := sha256.Sum256([]byte(accessToken))
		if accessToken == "" || !hmac.Equal([]byte(c.ATH), []byte(b64.EncodeToString(sum[:]))) {
			return invalid("the proof's ath is not the hash of the access token it was sent with")
		}
	}
	if d.nonceKey != nil && !d.nonceValid(c.Nonce, now) {
		if c.Nonce == "" {
			return nil, fail(ReasonDPoPNonce, "this server requires a nonce in DPoP proofs; retry with the one in the DPoP-Nonce header")
		}
		return nil, fail(ReasonDPoPNonce, "the proof's nonce is not current; retry with the one in the DPoP-Nonce header")
	}
	p := &DPoPProof{JKT: key.jkt, ID: c.JTI, IssuedAt: iat}
	// Seen once: kept until its iat leaves the window on the far side.
	switch err := d.replay.Add(ctx, "dpop-jti:"+p.JKT+":"+c.JTI, []byte{1}, 2*d.maxAge+time.Second); {
	case errors.Is(err, store.ErrExists):
		return invalid("the proof (jti %q) was already used; make a new proof for every request", c.JTI)
	case err != nil:
		return nil, &Error{Reason: ReasonDPoPUnavailable, Description: "DPoP proofs cannot be checked for replay now; retry later", Err: err}
	}
	return p, nil
}

// proofKey is a proof's public key, read from its jwk header, with its
// thumbprint.
type proofKey struct {
	raw any
	jkt string
}

// publicKey reads a proof's jwk: a public key only, its thumbprint
// computed once. A client proves with the same key on every request, so
// keys are remembered (bounded; a flood of new keys only evicts).
func (d *DPoPVerifier) publicKey(j json.RawMessage) (*proofKey, error) {
	if k, ok := d.keys.Get(string(j)); ok {
		return k, nil
	}
	key, err := jwk.ParseKey(j)
	if err != nil {
		return nil, fail(ReasonDPoPProofInvalid, "the proof's jwk cannot be read")
	}
	var raw any
	if err := key.Raw(&raw); err != nil {
		return nil, fail(ReasonDPoPProofInvalid, "the proof's jwk cannot be read")
	}
	if _, private := raw.(crypto.Signer); private || key.KeyType() == jwa.OctetSeq {
		return nil, fail(ReasonDPoPProofInvalid, "the proof's jwk is a private or symmetric key; it must be the public key only")
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fail(ReasonDPoPProofInvalid, "the proof's jwk has no thumbprint")
	}
	k := &proofKey{raw: raw, jkt: b64.EncodeToString(tp)}
	d.keys.Set(string(j), k, int64(2*len(j)+64), time.Hour)
	return k, nil
}

// sameHTU compares a proof's htu with the request's URL under RFC 3986
// syntax-based normalization (scheme and host case, default ports),
// ignoring the proof's query and fragment.
func sameHTU(claim, want string) bool {
	a, err1 := url.Parse(stripQuery(claim))
	b, err2 := url.Parse(want)
	if err1 != nil || err2 != nil || a.Host == "" {
		return false
	}
	norm := func(u *url.URL) string {
		host := strings.ToLower(u.Hostname())
		port := u.Port()
		scheme := strings.ToLower(u.Scheme)
		if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
			port = ""
		} else {
			port = ":" + port
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		return scheme + "://" + host + port + path
	}
	return norm(a) == norm(b)
}

func stripQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// Nonce returns the current nonce for the DPoP-Nonce header, "" when
// nonces are off. A nonce is the start of its time window and a MAC of
// it; a new one is issued every half lifetime.
func (d *DPoPVerifier) Nonce() string {
	if d.nonceKey == nil {
		return ""
	}
	step := int64(d.nonceTTL / 2 / time.Second)
	return d.nonceAt(d.now().Unix() / max(step, 1) * max(step, 1))
}

func (d *DPoPVerifier) nonceAt(start int64) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(start))
	m := hmac.New(sha256.New, d.nonceKey)
	m.Write([]byte("mcpauth dpop nonce\x00"))
	m.Write(b[:8])
	copy(b[8:], m.Sum(nil))
	return b64.EncodeToString(b[:])
}

func (d *DPoPVerifier) nonceValid(n string, now time.Time) bool {
	b, err := b64.DecodeString(n)
	if err != nil || len(b) != 24 {
		return false
	}
	start := int64(binary.BigEndian.Uint64(b[:8]))
	if age := now.Unix() - start; age < 0 || age > int64(d.nonceTTL/time.Second) {
		return false
	}
	return hmac.Equal([]byte(d.nonceAt(start)), []byte(n))
}

// checkProof checks the DPoP proof of a request whose token t came with
// the DPoP scheme: one proof, valid for this request and t, of the key t
// is bound to.
func (a *Authenticator) checkProof(r *http.Request, raw string, t *Token) error {
	proofs := r.Header.Values("DPoP")
	switch len(proofs) {
	case 0:
		return fail(ReasonDPoPProofInvalid, "the DPoP scheme needs a DPoP header with a proof")
	case 1:
	default:
		return fail(ReasonDPoPProofInvalid, "%d DPoP headers; send exactly one proof", len(proofs))
	}
	if t.DPoPKeyThumbprint == "" {
		return fail(ReasonDPoPProofInvalid, "the token is not DPoP-bound (no cnf.jkt): send it as a bearer token, or get a bound one")
	}
	p, err := a.dpop.Verify(r.Context(), proofs[0], r.Method, a.origin+r.URL.Path, raw)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(p.JKT), []byte(t.DPoPKeyThumbprint)) {
		return fail(ReasonDPoPProofInvalid, "the proof is signed with key %s, the token is bound to key %s", p.JKT, t.DPoPKeyThumbprint)
	}
	return nil
}

// boundKey reads cnf.jkt, the key a DPoP-bound token is bound to.
func boundKey(claims claimSet) (string, error) {
	v, ok, err := claims.Get("cnf")
	if !ok {
		return "", nil
	}
	cnf, isObject := v.(map[string]any)
	if err != nil || !isObject {
		return "", fail(ReasonClaimInvalid, "the cnf claim must be an object")
	}
	jkt, isString := cnf["jkt"].(string)
	if !isString || jkt == "" {
		// Bound to something this server cannot check (an mTLS
		// certificate, x5t#S256): accepting it would make the binding void.
		return "", fail(ReasonClaimInvalid, "the token is bound (cnf) to something other than a DPoP key (a non-empty cnf.jkt); this server checks DPoP bindings only")
	}
	return jkt, nil
}
