// Package replicas runs several replicas of one server on a shared, real
// Redis behind a round-robin load balancer, for the tests that hold state
// shared across replicas to its promises (single-use codes, refresh
// rotation, budgets). Tests only.
package replicas

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpauth/mcpauth/store"
	"github.com/mcpauth/mcpauth/store/redisstore"
	"github.com/mcpauth/mcpauth/store/storetest"
)

// Cluster is a load balancer's URL and the Redis its replicas will share.
// Start it with Listen, build what needs its URL (an upstream provider that
// redirects to it), then Serve the replicas.
type Cluster struct {
	// URL is the load balancer's: the public URL, the issuer.
	URL string
	// Replicas are each replica's own URL, once served.
	Replicas []string
	// StopRedis stops the Redis server, as an outage would.
	StopRedis func()

	t     testing.TB
	ln    net.Listener
	redis string
}

// Listen starts a redis-server and the load balancer's listener.
func Listen(t testing.TB) *Cluster {
	addr, stop := storetest.StartRedis(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &Cluster{URL: "http://" + ln.Addr().String(), StopRedis: stop, t: t, ln: ln, redis: addr}
}

// Serve builds n replicas, each from a Store on its own Redis client (keys
// under prefix; a dead Redis fails fast), serves each at its own URL, and
// the load balancer in front of them round-robin.
func (c *Cluster) Serve(n int, prefix string, build func(s store.Store) http.Handler) {
	c.t.Helper()
	handlers := make([]http.Handler, n)
	for i := range n {
		rc := redis.NewClient(&redis.Options{Addr: c.redis, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
		c.t.Cleanup(func() { rc.Close() })
		handlers[i] = build(redisstore.New(rc, prefix))
		srv := httptest.NewServer(handlers[i])
		c.t.Cleanup(srv.Close)
		c.Replicas = append(c.Replicas, srv.URL)
	}
	var next atomic.Int64
	lb := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers[next.Add(1)%int64(n)].ServeHTTP(w, r)
	})}
	go lb.Serve(c.ln)
	c.t.Cleanup(func() { lb.Close() })
}
