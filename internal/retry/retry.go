// Package retry is the backoff of the module's lazy discoveries
// (auth.VerifierConfig.LazyDiscovery, proxy.Config.LazyDiscovery): an attempt
// bounded in time, then a wait that starts at a second and doubles up to a
// minute, until an attempt succeeds or the context ends.
package retry

import (
	"context"
	"time"
)

// The backoff: the first retry after First, each next one twice as late,
// at most Max apart; each attempt has Timeout.
const (
	First   = time.Second
	Max     = time.Minute
	Timeout = 10 * time.Second
)

// Until calls attempt until it succeeds or ctx ends; failed, when not nil,
// hears each failure and the wait before the next attempt.
func Until(ctx context.Context, attempt func(context.Context) error, failed func(err error, wait time.Duration)) {
	wait := First
	for {
		actx, cancel := context.WithTimeout(ctx, Timeout)
		err := attempt(actx)
		cancel()
		if err == nil {
			return
		}
		if failed != nil {
			failed(err, wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, Max)
	}
}
