package authtest_test

import (
	"context"
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
	"github.com/mcpauth/mcpauth/store/redisstore"
	"github.com/mcpauth/mcpauth/store/storetest"
	"github.com/redis/go-redis/v9"
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
	clientID, err := clienttest.Register(a, `{"redirect_uris":["http://127.0.0.1:4567/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`)
	if err != nil {
		t.Fatalf("DCR on A: %v", err)
	}

	// Authorize on B (it knows the client A registered), redeem on both at once.
	code := func() string {
		f := clienttest.CodeFlow{Issuer: b, ClientID: clientID, RedirectURI: flow.RedirectURI, Scope: "notes:read offline_access", Resource: mcpURL}
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
		f.Set("client_id", clientID)
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
	status, out := post(t, b+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}, "client_id": {clientID}})
	if status != 200 || out["refresh_token"] == nil {
		t.Fatalf("refresh on B: %d %v", status, out)
	}
	skew.Store(int64(oauthas.RefreshRaceGrace + time.Second))
	if status, out := post(t, a+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}, "client_id": {clientID}}); status != 400 || !strings.Contains(out["error_description"].(string), "family is revoked") {
		t.Fatalf("replay on A: %d %v", status, out)
	}
	if status, out := post(t, b+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}, "client_id": {clientID}}); status != 400 {
		t.Fatalf("the newest token of a revoked family on B: %d %v", status, out)
	}

	// Redis goes away: registration, authorization and token answer 503.
	c := code()
	stopRedis()
	if status, out := post(t, a+"/token", form(c)); status != 503 || out["error"] != "temporarily_unavailable" {
		t.Fatalf("token with Redis gone: %d %v", status, out)
	}
	resp, err := http.Post(a+"/register", "application/json", strings.NewReader(`{"redirect_uris":["http://127.0.0.1:4567/callback"],"token_endpoint_auth_method":"none"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("DCR with Redis gone: %d", resp.StatusCode)
	}
	f := clienttest.CodeFlow{Issuer: b, ClientID: clientID, RedirectURI: flow.RedirectURI, Resource: mcpURL}
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

// roundTrips counts the commands a Redis client sends, pipelines as one.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// On Redis, redeeming a code (with the refresh token it brings) and
// rotating a refresh token are one round trip each: a script takes the
// item, records its use and stores the successor in one step. The rotated
// token keeps its grant's scope (RFC 6749 §6); a narrower scope asked for
// applies to the access token only.
func TestRedemptionIsOneRoundTrip(t *testing.T) {
	addr, _ := storetest.StartRedis(t)
	rc := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rc.Close() })
	var trips roundTrips
	rc.AddHook(&trips)
	s := start(t, authtest.Options{AutoApprove: true, Store: redisstore.New(rc, "trips:")})
	f := flow
	f.Issuer, f.ClientSecret, f.Scope = s.URL, "quickstart-secret", "notes:read notes:write offline_access"
	redeem := func() map[string]any {
		code, err := f.Code()
		if err != nil {
			t.Fatal(err)
		}
		before := trips.n.Load()
		status, out, err := f.Token(f.CodeForm(code))
		if err != nil || status != 200 || out["refresh_token"] == nil {
			t.Fatalf("redeem: %d %v %v", status, out, err)
		}
		out["round_trips"] = trips.n.Load() - before
		return out
	}
	redeem() // loads the script into Redis (EVALSHA, then EVAL once)
	out := redeem()
	if out["round_trips"] != int64(1) {
		t.Fatalf("a code redemption took %d Redis round trips", out["round_trips"])
	}
	before := trips.n.Load()
	status, next, err := f.Token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}, "scope": {"notes:read"}})
	if err != nil || status != 200 || next["scope"] != "notes:read" {
		t.Fatalf("refresh: %d %v %v", status, next, err)
	}
	if n := trips.n.Load() - before; n != 1 {
		t.Fatalf("a refresh rotation took %d Redis round trips", n)
	}
	status, again, _ := f.Token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next["refresh_token"].(string)}})
	if status != 200 || again["scope"] != "notes:read notes:write offline_access" {
		t.Fatalf("the rotated token lost its grant's scope: %d %v", status, again)
	}
}
