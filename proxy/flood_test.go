package proxy_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpauth/mcpauth/auth"
	"github.com/mcpauth/mcpauth/internal/clienttest"
	"github.com/mcpauth/mcpauth/proxy"
)

// fromAddress is an HTTP client whose connections come from the loopback
// address ip: one source, as the proxy counts them.
func fromAddress(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// An unauthenticated flood of the proxy's store, from 64 addresses, with
// the default budgets: authorization requests as large as they may be
// (left on the consent page), and registrations as large as they may be.
// Every source stops at its budget, all of them at the global one; the
// memory they leave stays under 64 MB; a user who signed in before signs
// in during the flood, and so does a new user once the flood stops
// short of the global budget.
func TestStoreFloodBounded(t *testing.T) {
	w := newWorldWith(t, false, func(c *proxy.Config) { c.Limits.RegistrationsPerSource = 40 })
	const redirect = "http://127.0.0.1:4567/callback"
	returning := newBrowser()
	if _, err := signIn(w, returning, authParams(w, "quickstart-client", redirect)); err != nil {
		t.Fatalf("sign-in before the flood: %v", err)
	}
	before := heapInUse()

	big := authParams(w, "quickstart-client", redirect)
	big.Set("state", strings.Repeat("s", 1024))
	big.Set("scope", strings.TrimSpace(strings.Repeat("notes:read ", 180)))
	registration := `{"redirect_uris":["` + redirect + `"],"token_endpoint_auth_method":"none","client_name":"` + strings.Repeat("n", 3600) + `"}`
	var pendingKept, pendingRefused, registered, registrationsRefused atomic.Int64
	flood := func(sources []string) {
		var wg sync.WaitGroup
		for _, ip := range sources {
			wg.Go(func() {
				c := fromAddress(ip)
				defer c.CloseIdleConnections()
				for range 70 {
					resp, err := c.Get(w.asURL + "/authorize?" + big.Encode())
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					switch resp.StatusCode {
					case http.StatusOK:
						pendingKept.Add(1)
					case http.StatusTooManyRequests:
						pendingRefused.Add(1)
					default:
						t.Errorf("authorize from %s: %d", ip, resp.StatusCode)
					}
				}
				for range 45 {
					resp, err := c.Post(w.asURL+"/register", "application/json", strings.NewReader(registration))
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					switch resp.StatusCode {
					case http.StatusCreated:
						registered.Add(1)
					case http.StatusTooManyRequests:
						registrationsRefused.Add(1)
					default:
						t.Errorf("register from %s: %d", ip, resp.StatusCode)
					}
				}
			})
		}
		wg.Wait()
	}
	addresses := func(from, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("127.0.0.%d", from+i)
		}
		return out
	}

	// 32 sources: each stops at its budget (100 pending, 40 registrations),
	// together short of the global budgets (4,000 and 2,000). A new user
	// signs in.
	flood(addresses(2, 32))
	if got := pendingKept.Load(); got != 32*70 {
		t.Errorf("pending kept from 32 sources: %d, want %d", got, 32*70)
	}
	if got := registered.Load(); got != 32*40 {
		t.Errorf("registrations from 32 sources: %d, want %d", got, 32*40)
	}
	if _, err := signIn(w, newBrowser(), authParams(w, "quickstart-client", redirect)); err != nil {
		t.Fatalf("a new user during a flood short of the global budget: %v", err)
	}
	// 32 more: the global budgets stop them; the returning user signs in.
	flood(addresses(40, 32))
	if got := pendingKept.Load(); got > 4000 {
		t.Errorf("pending kept: %d, more than the global budget of 4,000", got)
	}
	if got := registered.Load(); got != 2000 {
		t.Errorf("registrations: %d, want the global budget of 2,000", got)
	}
	if _, err := signIn(w, returning, authParams(w, "quickstart-client", redirect)); err != nil {
		t.Fatalf("a returning user during the flood: %v", err)
	}
	growth := int64(heapInUse()) - int64(before)
	t.Logf("flood: %d authorization requests kept, %d refused; %d registrations, %d refused; heap growth %.1f MB",
		pendingKept.Load(), pendingRefused.Load(), registered.Load(), registrationsRefused.Load(), float64(growth)/(1<<20))
	if growth > 64<<20 {
		t.Fatalf("the flood grew the heap by %.1f MB, more than 64 MB", float64(growth)/(1<<20))
	}
}

// signIn walks an authorization through the proxy's consent page and the
// upstream in browser b (approving when asked) and returns the code.
func signIn(w *world, b *http.Client, p url.Values) (string, error) {
	q, err := clienttest.FollowIn(b, w.asURL+"/authorize?"+p.Encode(), p.Get("redirect_uri"))
	if err != nil {
		return "", err
	}
	return q.Get("code"), nil
}

// An unauthenticated flood of DPoP token requests, each with a valid
// proof of a fresh key (proofs are cheap to make) and a public client's id:
// every proof is remembered for replay detection, in a bounded memory of
// its own, so the heap stays flat, and signing in and DPoP token requests
// keep working.
func TestDPoPProofFloodBounded(t *testing.T) {
	w := newWorldWith(t, true, func(c *proxy.Config) { c.DPoP = &auth.DPoPConfig{} })
	md := `{"redirect_uris":["http://127.0.0.1:4568/cb"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`
	pub, err := clienttest.Register(w.asURL, md)
	if err != nil {
		t.Fatal(err)
	}
	before := heapInUse()
	k := clienttest.NewKey()
	var wg sync.WaitGroup
	var refusedAsBadCode atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 500 {
				form := url.Values{"grant_type": {"authorization_code"}, "client_id": {pub}, "code": {"guess"}, "code_verifier": {strings.Repeat("v", 43)}}
				status, out := tokenRequest(t, w, form, "", "", k.Proof("POST", w.asURL+"/token", "", "", nil))
				if status == 400 && out["error"] == "invalid_grant" {
					refusedAsBadCode.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if refusedAsBadCode.Load() != 4000 {
		t.Fatalf("%d of 4,000 flood requests reached the code check", refusedAsBadCode.Load())
	}
	growth := int64(heapInUse()) - int64(before)
	t.Logf("4,000 proofs remembered: heap growth %.1f MB", float64(growth)/(1<<20))
	if growth > 16<<20 {
		t.Fatalf("the flood grew the heap by %.1f MB, more than 16 MB", float64(growth)/(1<<20))
	}
	flow := clienttest.CodeFlow{Issuer: w.asURL, ClientID: pub, RedirectURI: "http://127.0.0.1:4568/cb", Scope: "notes:read", Resource: w.mcpURL}
	code, err := flow.Code()
	if err != nil {
		t.Fatal(err)
	}
	form := flow.CodeForm(code)
	form.Set("client_id", pub)
	if status, out := tokenRequest(t, w, form, "", "", clienttest.NewKey().Proof("POST", w.asURL+"/token", "", "", nil)); status != 200 || out["token_type"] != "DPoP" {
		t.Fatalf("a DPoP sign-in after the flood: %d %v", status, out)
	}
}
