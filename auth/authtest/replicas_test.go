package authtest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth/authtest"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/internal/oauthas"
	"github.com/mcpauth/mcpauth/internal/replicas"
	"github.com/mcpauth/mcpauth/store"
)

// Two replicas of the development server share one real Redis: a client
// registered on one is known on the other, a code issued by one is
// redeemed once whichever replicas race to redeem it, refresh-token reuse
// on one revokes the family on the other, and Redis going away is a 503,
// never a grant.
func TestReplicasShareRedis(t *testing.T) {
	cl := replicas.Listen(t)
	stopRedis := cl.StopRedis
	var skew atomic.Int64 // how far the replicas' clock is ahead
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	cl.Serve(2, "authtest:", func(st store.Store) http.Handler {
		s, err := authtest.New(authtest.Options{Issuer: cl.URL, AutoApprove: true, Store: st, KeyAlgorithm: "ES256", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	a, b := cl.Replicas[0], cl.Replicas[1]

	// DCR on A.
	resp, err := http.Post(a+"/register", "application/json", strings.NewReader(`{"redirect_uris":["http://127.0.0.1:4567/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		ClientID string `json:"client_id"`
	}
	json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	if resp.StatusCode != 201 || reg.ClientID == "" {
		t.Fatalf("DCR on A: %d", resp.StatusCode)
	}

	// Authorize on B (it knows the client A registered), redeem on both at once.
	code := func() string {
		f := clienttest.CodeFlow{Issuer: b, ClientID: reg.ClientID, RedirectURI: flow.RedirectURI, Scope: "notes:read offline_access", Resource: mcpURL}
		resp, err := noRedirect.Get(f.AuthorizeURL(f.Params()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != 302 || loc.Query().Get("code") == "" {
			t.Fatalf("authorize on B: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc.Query().Get("code")
	}
	form := func(c string) url.Values {
		f := flow.CodeForm(c)
		f.Set("client_id", reg.ClientID)
		return f
	}
	var wins atomic.Int64
	var refresh atomic.Value
	for round := range 10 {
		c := code()
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				status, out := post(t, []string{a, b}[i%2]+"/token", form(c))
				if status == 200 {
					wins.Add(1)
					refresh.Store(out["refresh_token"])
				} else if status != 400 || out["error"] != "invalid_grant" {
					t.Errorf("a losing redemption: %d %v", status, out)
				}
			})
		}
		wg.Wait()
		if wins.Load() != int64(round+1) {
			t.Fatalf("round %d: the code was redeemed %d times in all", round, wins.Load())
		}
	}

	// Rotate the refresh token on B, replay the old one on A (later than a
	// race could be): the family is revoked everywhere.
	old := refresh.Load().(string)
	status, out := post(t, b+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}, "client_id": {reg.ClientID}})
	if status != 200 || out["refresh_token"] == nil {
		t.Fatalf("refresh on B: %d %v", status, out)
	}
	skew.Store(int64(oauthas.RefreshRaceGrace + time.Second))
	if status, out := post(t, a+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}, "client_id": {reg.ClientID}}); status != 400 || !strings.Contains(out["error_description"].(string), "family is revoked") {
		t.Fatalf("replay on A: %d %v", status, out)
	}
	if status, out := post(t, b+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}, "client_id": {reg.ClientID}}); status != 400 {
		t.Fatalf("the newest token of a revoked family on B: %d %v", status, out)
	}

	// Redis goes away: registration, authorization and token answer 503.
	c := code()
	stopRedis()
	if status, out := post(t, a+"/token", form(c)); status != 503 || out["error"] != "temporarily_unavailable" {
		t.Fatalf("token with Redis gone: %d %v", status, out)
	}
	resp, err = http.Post(a+"/register", "application/json", strings.NewReader(`{"redirect_uris":["http://127.0.0.1:4567/callback"],"token_endpoint_auth_method":"none"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("DCR with Redis gone: %d", resp.StatusCode)
	}
	f := clienttest.CodeFlow{Issuer: b, ClientID: reg.ClientID, RedirectURI: flow.RedirectURI, Resource: mcpURL}
	resp, err = noRedirect.Get(f.AuthorizeURL(f.Params()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("authorize with Redis gone: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func post(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
