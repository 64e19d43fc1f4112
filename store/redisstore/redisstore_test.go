package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpauth/mcpauth/store"
	"github.com/mcpauth/mcpauth/store/redisstore"
	"github.com/mcpauth/mcpauth/store/storetest"
)

// startRedis runs a real redis-server on a free loopback port for the
// test, with nothing persisted. Without redis-server on PATH the test is
// skipped; .ci/run installs it (Debian's redis-server), so CI always runs it.
func startRedis(t *testing.T) (addr string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for i := 0; c.Ping(context.Background()).Err() != nil; i++ {
		if i > 100 {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, stop
}

func client(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConformance runs the store suite with two replicas, each with its own
// connection pool, against one real Redis.
func TestConformance(t *testing.T) {
	addr, _ := startRedis(t)
	n := 0
	storetest.Run(t, func(t *testing.T) (store.Store, store.Store) {
		n++
		prefix := fmt.Sprintf("test%d:", n)
		return redisstore.New(client(t, addr), prefix), redisstore.New(client(t, addr), prefix)
	})
}

// Redis going away is ErrUnavailable, for every operation: never a
// missing item that a caller could take for "not found", never a grant.
func TestRedisGoneIsUnavailable(t *testing.T) {
	addr, stop := startRedis(t)
	s := redisstore.New(client(t, addr), "gone:")
	ctx := context.Background()
	if err := s.Put(ctx, "code", []byte("grant"), time.Minute); err != nil {
		t.Fatal(err)
	}
	stop()
	_, getErr := s.Get(ctx, "code")
	_, takeErr := s.Take(ctx, "code")
	_, incrErr := s.Incr(ctx, "rate", time.Minute)
	for name, err := range map[string]error{
		"Put": s.Put(ctx, "k", []byte("v"), time.Minute), "Add": s.Add(ctx, "k", []byte("v"), time.Minute),
		"Get": getErr, "Take": takeErr, "Delete": s.Delete(ctx, "k"), "Incr": incrErr,
	} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with Redis gone: %v, want ErrUnavailable", name, err)
		}
	}
}
