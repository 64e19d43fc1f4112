package oauthas

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/randid"
	"github.com/mcpauth/mcpauth/registration"
	"github.com/mcpauth/mcpauth/scopes"
	"github.com/mcpauth/mcpauth/store"
)

// TokenError is an RFC 6749 §5.2 error.
type TokenError struct {
	Status     int
	Code, Desc string
}

// Error returns the code and its description.
func (e *TokenError) Error() string { return e.Code + ": " + e.Desc }

// Refuse returns the 400 token error code with its description.
func Refuse(code, desc string) error { return &TokenError{http.StatusBadRequest, code, desc} }

// unavailable is the answer when the store cannot be reached: never a
// grant, and nothing about the store.
func unavailable() error {
	return &TokenError{http.StatusServiceUnavailable, "temporarily_unavailable", "the server's store is unavailable; retry later"}
}

// ServeToken is the token endpoint.
func (s *Server) ServeToken(w http.ResponseWriter, r *http.Request) {
	resp, err := s.token(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		var te *TokenError
		if !errors.As(err, &te) {
			te = &TokenError{http.StatusBadRequest, "invalid_request", err.Error()}
		}
		if _, _, basic := r.BasicAuth(); basic && te.Status == http.StatusUnauthorized {
			// RFC 6749 §5.2: a challenge of the scheme the client used.
			w.Header().Set("WWW-Authenticate", `Basic realm="`+s.Realm+`"`)
		}
		if te.Code == "use_dpop_nonce" {
			w.Header().Set("DPoP-Nonce", s.DPoP.Nonce())
		}
		w.WriteHeader(te.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": te.Code, "error_description": te.Desc})
		return
	}
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) token(r *http.Request) (map[string]any, error) {
	if r.Method != http.MethodPost {
		return nil, &TokenError{http.StatusMethodNotAllowed, "invalid_request", "use POST"}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, Refuse("invalid_request", "malformed form body")
	}
	client, err := s.authenticateClient(r)
	if err != nil {
		return nil, err
	}
	proof, err := s.dpopProof(r)
	if err != nil {
		return nil, err
	}
	f := r.PostForm
	switch gt := f.Get("grant_type"); gt {
	case "authorization_code", "refresh_token":
		exchange := s.exchangeCode
		if gt == "refresh_token" {
			exchange = s.exchangeRefresh
		}
		resp, err := exchange(r.Context(), client, f, proof)
		if err == nil {
			s.Resolver.Used(r.Context(), client)
		}
		return resp, err
	case "client_credentials":
		if client.Public() {
			return nil, Refuse("unauthorized_client", "public clients cannot use client_credentials")
		}
		if !client.AllowsGrant(gt) {
			return nil, Refuse("unauthorized_client", "the client did not register client_credentials")
		}
		granted, err := s.ClientScopes(client, f.Get("scope"))
		if err != nil {
			return nil, err
		}
		aud, err := s.Audience(f["resource"])
		if err != nil {
			return nil, Refuse("invalid_target", err.Error())
		}
		return s.Issue(Grant{ClientID: client.ID, Subject: client.ID, Scope: granted.String(), Audience: aud}, proof), nil
	default:
		if g, ok := s.Grants[gt]; ok {
			if !client.AllowsGrant(gt) {
				return nil, Refuse("unauthorized_client", "the client did not register the grant type "+gt)
			}
			return g(r.Context(), client, f, proof)
		}
		return nil, Refuse("unsupported_grant_type", "grant_type "+gt+" is not supported")
	}
}

// ClientScopes decides what a grant without a user (client credentials,
// an enterprise assertion) gives client of the scope requested: what
// GrantScopes grants, within the scope the client registered (RFC 7591
// scope; empty allows every supported scope). Nothing requested means the
// client's registered scope. offline_access is dropped: no refresh token
// without a user's sign-in.
func (s *Server) ClientScopes(client *registration.Client, requested string) (scopes.Set, error) {
	allowed, err := scopes.Parse(client.Metadata.Scope)
	if err != nil {
		return scopes.Set{}, Refuse("invalid_scope", "the client's registered scope is malformed")
	}
	if requested == "" {
		requested = allowed.String()
	}
	granted, err := s.GrantScopes(requested)
	if err != nil {
		return scopes.Set{}, Refuse("invalid_scope", err.Error())
	}
	granted = granted.Without(scopes.OfflineAccess)
	if !allowed.IsEmpty() {
		if extra := granted.Difference(allowed); !extra.IsEmpty() {
			return scopes.Set{}, &TokenError{http.StatusBadRequest, "invalid_scope",
				fmt.Sprintf("the client may ask for %q only; %q is outside it", allowed.String(), extra.String())}
		}
	}
	return granted, nil
}

// dpopProof verifies the DPoP proof of a token request, nil when there
// is none. A proof sent where DPoP is off is refused, not ignored: the
// client would believe its token bound.
func (s *Server) dpopProof(r *http.Request) (*auth.DPoPProof, error) {
	proofs := r.Header.Values("DPoP")
	switch {
	case len(proofs) == 0:
		return nil, nil
	case s.DPoP == nil:
		return nil, Refuse("invalid_dpop_proof", "this server does not issue DPoP-bound tokens")
	case len(proofs) > 1:
		return nil, Refuse("invalid_dpop_proof", "send exactly one DPoP header")
	}
	p, err := s.DPoP.Verify(r.Context(), proofs[0], http.MethodPost, s.Issuer+"/token", "")
	var ae *auth.Error
	switch {
	case err == nil:
		return p, nil
	case errors.As(err, &ae) && ae.Reason == auth.ReasonDPoPNonce:
		return nil, Refuse("use_dpop_nonce", ae.Description)
	case errors.As(err, &ae) && ae.Reason == auth.ReasonDPoPProofInvalid:
		return nil, Refuse("invalid_dpop_proof", ae.Description)
	}
	return nil, unavailable()
}

// authenticateClient applies client_secret_basic, client_secret_post or
// none, as the client registered.
func (s *Server) authenticateClient(r *http.Request) (*registration.Client, error) {
	if r.PostForm.Has("client_assertion") || r.PostForm.Has("client_assertion_type") {
		return s.authenticateAssertion(r)
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	unauthorized := &TokenError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}
	if id == "" {
		return nil, unauthorized
	}
	client, err := s.Resolver.Client(r.Context(), id)
	if errors.Is(err, store.ErrUnavailable) {
		return nil, unavailable()
	}
	if err != nil {
		return nil, unauthorized
	}
	if client.Public() {
		if secret != "" {
			return nil, unauthorized
		}
		return client, nil
	}
	if !client.AuthenticateSecret(secret) {
		return nil, unauthorized
	}
	return client, nil
}

// refreshSuffix ends a code whose redemption issues a refresh token, as
// decided when it was issued (offline_access granted, the client allows
// the grant): the token is then stored in the step that takes the code.
const refreshSuffix = ".r"

// exchangeCode redeems a code: one store step (one round trip on Redis)
// takes it, records its use and stores the refresh token it brings, which
// carries the code's grant forward; a redemption refused after the take
// (PKCE, redirect URI, another client) deletes that token again.
func (s *Server) exchangeCode(ctx context.Context, client *registration.Client, f url.Values, proof *auth.DPoPProof) (map[string]any, error) {
	code := f.Get("code")
	r := store.Redemption{Key: "code:" + code, Puts: []store.Item{{Key: "code-used:" + code, Value: []byte{1}, TTL: s.codeTTL() + grace}}}
	var rt string
	if strings.HasSuffix(code, refreshSuffix) && client.AllowsGrant("refresh_token") {
		var put store.Item
		rt, put = s.newRefresh(randid.New(8), refreshBinding(client, proof))
		r.Puts = append(r.Puts, put)
	}
	b, err := store.Redeem(ctx, s.Store, r)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, used := s.Store.Get(ctx, "code-used:"+code); used == nil {
			return nil, Refuse("invalid_grant", "the authorization code was already used")
		}
		return nil, Refuse("invalid_grant", "unknown authorization code")
	case errors.Is(err, store.ErrFull) && b != nil: // taken; no room for the refresh token
		s.drop(ctx, rt)
		rt = ""
	case err != nil:
		return nil, unavailable()
	}
	var c codeRecord
	if err := json.Unmarshal(b, &c); err != nil {
		s.drop(ctx, rt)
		return nil, fmt.Errorf("a stored record cannot be read: %w", err)
	}
	var refused error
	switch {
	case s.now().After(c.Expires):
		refused = Refuse("invalid_grant", "the authorization code expired")
	case c.ClientID != client.ID:
		refused = Refuse("invalid_grant", "the authorization code was issued to another client")
	case f.Get("redirect_uri") != c.RedirectURI:
		refused = Refuse("invalid_grant", "redirect_uri differs from the one in the authorization request")
	case f.Get("code_verifier") == "":
		refused = Refuse("invalid_grant", "code_verifier is required (PKCE)")
	case subtle.ConstantTimeCompare([]byte(S256(f.Get("code_verifier"))), []byte(c.Challenge)) != 1:
		refused = Refuse("invalid_grant", "code_verifier does not match the code_challenge")
	case len(f["resource"]) > 0 && strings.Join(f["resource"], " ") != strings.Join(c.Audience, " "):
		refused = Refuse("invalid_target", "resource differs from the one authorized")
	}
	if refused != nil {
		s.drop(ctx, rt)
		return nil, refused
	}
	return s.issue(c.Grant, rt, true, proof), nil
}

// refreshBinding is the key a public client's refresh token is bound to
// (RFC 9449 §5): the token request's proof key, "" for none. A
// confidential client's refresh tokens are bound by its authentication.
func refreshBinding(client *registration.Client, proof *auth.DPoPProof) string {
	if proof == nil || !client.Public() {
		return ""
	}
	return proof.JKT
}

// refreshHeader is the first line of a stored refresh token: its family
// and expiry. The grant follows on the next line, carried forward from
// the code or the token it replaced (store.Item.AppendTaken).
type refreshHeader struct {
	Family  string    `json:"family"`
	Expires time.Time `json:"expires"`
	JKT     string    `json:"jkt,omitempty"` // the DPoP key a public client's token is bound to
}

// refreshRecord is a refresh token, as read.
type refreshRecord struct {
	Grant
	Family  string    `json:"family"`
	Expires time.Time `json:"expires"`
	JKT     string    `json:"jkt,omitempty"`
}

// newRefresh returns a new refresh token of family and the item that
// stores it: its header line, the grant appended by the redemption. The
// token names its family, so that a redemption can be refused for a
// revoked family in the same step.
func (s *Server) newRefresh(family, jkt string) (string, store.Item) {
	h, _ := json.Marshal(refreshHeader{Family: family, Expires: s.now().Add(s.refreshTTL()), JKT: jkt})
	rt := family + "." + randid.New(32)
	return rt, store.Item{Key: "refresh:" + rt, Value: append(h, '\n'), TTL: s.refreshTTL() + grace, AppendTaken: true}
}

// decodeRefresh reads a stored refresh token.
func decodeRefresh(b []byte) (refreshRecord, error) {
	var rec refreshRecord
	head, body, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return rec, errors.New("a stored refresh token cannot be read")
	}
	var h refreshHeader
	if err := json.Unmarshal(head, &h); err != nil {
		return rec, fmt.Errorf("a stored refresh token cannot be read: %w", err)
	}
	if err := json.Unmarshal(body, &rec.Grant); err != nil {
		return rec, fmt.Errorf("a stored refresh token cannot be read: %w", err)
	}
	rec.Family, rec.Expires, rec.JKT = h.Family, h.Expires, h.JKT
	return rec, nil
}

// drop deletes a refresh token stored by a redemption that was then
// refused; "" is none.
func (s *Server) drop(ctx context.Context, rt string) {
	if rt != "" {
		_ = s.Store.Delete(ctx, "refresh:"+rt)
	}
}

// RefreshRaceGrace is how soon after a refresh token's rotation a second
// use of it counts as the loser of a race rather than a replay. Of
// concurrent refresh requests with one token exactly one wins (the store's
// atomic redemption decides) and gets the new pair; the others get
// invalid_grant and the family survives when they arrive within the grace
// (a client retrying or racing itself). A use later than that is a replay
// of a rotated token and revokes the whole family (RFC 9700 §4.14.2).
const RefreshRaceGrace = 10 * time.Second

// usedRefresh marks a rotated refresh token, as stored.
type usedRefresh struct {
	Family string    `json:"family"`
	At     time.Time `json:"at"`
}

// exchangeRefresh rotates a refresh token in one store step (one round
// trip on Redis): the token is taken unless its family is revoked, its use
// recorded and its successor stored, with the same grant and scope (RFC
// 6749 §6; a narrower scope asked for applies to the access token only).
// A request refused after the take (another client, a widening scope)
// puts the token back as it was, so it stays usable.
func (s *Server) exchangeRefresh(ctx context.Context, client *registration.Client, f url.Values, proof *auth.DPoPProof) (map[string]any, error) {
	if !client.AllowsGrant("refresh_token") {
		return nil, Refuse("unauthorized_client", "the client did not register refresh_token")
	}
	rt := f.Get("refresh_token")
	family, _, ok := strings.Cut(rt, ".")
	if !ok || family == "" {
		return nil, Refuse("invalid_grant", "unknown refresh token")
	}
	used, _ := json.Marshal(usedRefresh{Family: family, At: s.now()})
	next, put := s.newRefresh(family, refreshBinding(client, proof))
	b, err := store.Redeem(ctx, s.Store, store.Redemption{Key: "refresh:" + rt, Unless: []string{"revoked:" + family},
		Puts: []store.Item{{Key: "refresh-used:" + rt, Value: used, TTL: s.refreshTTL() + grace}, put}})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, s.reused(ctx, rt)
	case errors.Is(err, store.ErrRefused):
		return nil, Refuse("invalid_grant", "the refresh token was revoked")
	case errors.Is(err, store.ErrFull) && b != nil:
		s.restore(ctx, rt, next, b)
		return nil, unavailable()
	case err != nil:
		return nil, unavailable()
	}
	rec, err := decodeRefresh(b)
	if err != nil {
		s.drop(ctx, next)
		return nil, err
	}
	g := rec.Grant
	var refused error
	switch {
	case s.now().After(rec.Expires):
		s.drop(ctx, next)
		return nil, Refuse("invalid_grant", "the refresh token expired")
	case rec.ClientID != client.ID:
		refused = Refuse("invalid_grant", "the refresh token was issued to another client")
	case rec.JKT != "" && (proof == nil || proof.JKT != rec.JKT):
		refused = Refuse("invalid_dpop_proof", "the refresh token is bound to a DPoP key; send a proof of that key")
	case f.Get("scope") != "":
		held, _ := scopes.Parse(g.Scope)
		narrowed, err := scopes.Parse(f.Get("scope"))
		if err != nil || !held.ContainsAll(narrowed) {
			refused = Refuse("invalid_scope", "a refresh may only narrow the granted scopes "+strconv.Quote(g.Scope))
		}
		g.Scope = narrowed.String()
	}
	if refused != nil {
		s.restore(ctx, rt, next, b)
		return nil, refused
	}
	return s.issue(g, next, false, proof), nil
}

// restore undoes a rotation refused after its redemption: the token put
// back as it was (until its own expiry), its use and its successor
// forgotten.
func (s *Server) restore(ctx context.Context, rt, next string, b []byte) {
	if rec, err := decodeRefresh(b); err == nil {
		if left := rec.Expires.Sub(s.now()); left > 0 {
			_ = s.Store.Put(ctx, "refresh:"+rt, b, left+grace)
		}
	}
	_ = s.Store.Delete(ctx, "refresh-used:"+rt)
	s.drop(ctx, next)
}

// reused answers a refresh token that is not (or no longer) stored: unknown,
// the loser of a race within RefreshRaceGrace, or a replay, which revokes
// its family for as long as a token of the family can live.
func (s *Server) reused(ctx context.Context, rt string) error {
	var u usedRefresh
	if err := s.get(ctx, "refresh-used:"+rt, &u); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Refuse("invalid_grant", "unknown refresh token")
		}
		return err
	}
	if s.now().Sub(u.At) < RefreshRaceGrace {
		return Refuse("invalid_grant", "the refresh token was just used by a concurrent request, which received the new tokens")
	}
	if err := s.Store.Put(ctx, "revoked:"+u.Family, []byte{1}, s.refreshTTL()+grace); err != nil {
		return unavailable()
	}
	return Refuse("invalid_grant", "the refresh token was already used; its family is revoked")
}

// get reads the record at key from the store and decodes it.
func (s *Server) get(ctx context.Context, key string, into any) error {
	b, err := s.Store.Get(ctx, key)
	return decode(b, err, into)
}

// decode decodes a record the store returned: ErrNotFound as it is, other
// store errors as unavailable.
func decode(b []byte, err error, into any) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return err
	case err != nil:
		return unavailable()
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("a stored record cannot be read: %w", err)
	}
	return nil
}

// Issue mints an access token for g, bound to the key of proof when there
// is one (token_type DPoP), without a refresh token: the answer of a grant
// without a user's sign-in.
func (s *Server) Issue(g Grant, proof *auth.DPoPProof) map[string]any {
	return s.issue(g, "", false, proof)
}

// issue mints an access token for g, with the refresh token rt when one
// was stored ("" for none), and an ID token for a code's openid scope.
func (s *Server) issue(g Grant, rt string, code bool, proof *auth.DPoPProof) map[string]any {
	typ := "Bearer"
	if proof != nil {
		g.DPoPJKT, typ = proof.JKT, "DPoP"
	}
	tok, ttl := s.Mint(g)
	resp := map[string]any{"access_token": tok, "token_type": typ, "expires_in": int(ttl.Seconds()), "scope": g.Scope}
	if s.IDToken != nil && code && slices.Contains(strings.Fields(g.Scope), "openid") {
		resp["id_token"] = s.IDToken(g)
	}
	if rt != "" {
		resp["refresh_token"] = rt
	}
	return resp
}
