package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mcpauth/mcpauth/internal/source"
)

// Limits bound what callers that have not signed in can make the proxy
// keep: authorization requests waiting on the consent page or at the
// upstream sign-in, and Dynamic Client Registrations. Each is budgeted per
// source and for all sources together, counted in the Store (so replicas
// on Redis count together), and the source is counted first, so one
// source over its budget cannot use up everyone's. What they keep is also
// bounded in size (an authorization request at most 4 KiB, a registration
// at most registration.Policy.MaxMetadataBytes), so the defaults hold it
// under about 64 MB whatever arrives. With the default in-memory store,
// these items are also kept apart from codes, refresh tokens and upstream
// tokens, so a flood of either kind cannot lock the other out. Zero values
// are the defaults.
type Limits struct {
	// PendingPerSource bounds the authorization requests one source may
	// leave pending per 10 minutes (a request that shows the consent page
	// and then goes upstream counts twice); zero means 100. A browser that
	// names a user who signed in before counts against that user's own
	// budget of the same size instead, never the sources'.
	PendingPerSource int
	// Pending bounds the requests of all sources together (browsers that
	// name no user); zero means 4,000.
	Pending int
	// RegistrationsPerSource bounds one source's Dynamic Client
	// Registrations per hour, when Config.DCR sets no RateLimit; zero means 20.
	RegistrationsPerSource int
	// Registrations bounds all sources' registrations per day, when
	// Config.DCR sets no GlobalRateLimit; zero means 2,000. A registration
	// never used for a sign-in is dropped after a day.
	Registrations int
	// Source names where a request comes from. Nil means its remote IP
	// address (an IPv6 address by its /64); behind a reverse proxy, return
	// the address it vouches for.
	Source func(*http.Request) string
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.PendingPerSource, 100)
	def(&l.Pending, 4000)
	def(&l.RegistrationsPerSource, 20)
	def(&l.Registrations, 2000)
	return l
}

// errOverBudget is a request refused because its source, or all sources
// together, used their budget.
var errOverBudget = errors.New("over budget")

// admitPending counts one pending authorization request within the window
// of a pending request: against its user's budget when the browser names a
// user who signed in before (the cookie is signed: nobody can claim
// another's), else against its source's and then all sources' budgets, so
// a flood from unknown browsers never locks returning users out.
func (p *Proxy) admitPending(ctx context.Context, r *http.Request) error {
	if user := p.approvals(r).user; user != "" {
		return p.count(ctx, "quota:pending:user:"+source.Bound(user), p.limits.PendingPerSource, txTTL)
	}
	src := source.Key(r, p.limits.Source)
	if err := p.count(ctx, "quota:pending:src:"+src, p.limits.PendingPerSource, txTTL); err != nil {
		return err
	}
	return p.count(ctx, "quota:pending:all", p.limits.Pending, txTTL)
}

func (p *Proxy) count(ctx context.Context, key string, limit int, window time.Duration) error {
	n, err := p.public.Incr(ctx, key, window)
	switch {
	case err != nil:
		return err
	case n > int64(limit):
		return errOverBudget
	}
	return nil
}

// refuse answers a request that could not be admitted or stored: 429 when
// over budget, 503 when the store is full or unreachable.
func refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, errOverBudget) {
		w.Header().Set("Retry-After", fmt.Sprint(int(txTTL.Seconds())))
		http.Error(w, "temporarily_unavailable: too many pending sign-ins from this network or from everyone; retry later", http.StatusTooManyRequests)
		return
	}
	unavailable(w, err)
}

// keep stores a pending item under key, in the store of what
// unauthenticated callers leave, after counting it against the budgets.
func (p *Proxy) keep(ctx context.Context, r *http.Request, key string, value []byte) error {
	if err := p.admitPending(ctx, r); err != nil {
		return err
	}
	return p.public.Add(ctx, key, value, txTTL)
}
