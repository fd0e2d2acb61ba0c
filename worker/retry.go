package worker

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// deferral is a handler result that is not a failure: the message goes back
// to wait — for its session window, a rate limit, a cool-down, a paused
// campaign — and comes back after in, without using a retry attempt.
//
// asynq archives a task at MaxRetry even for a "not a failure" error, so a
// deferred task must never sit at its limit: MaxRetry is set above the
// attempts budget that the handler enforces itself (see Config.MaxAttempts).
type deferral struct {
	reason string
	in     time.Duration
	// exact: come back at in, not a second later (see deferUntil).
	exact bool
}

func (d *deferral) Error() string {
	return d.reason + " (next try in " + d.in.Round(time.Second).String() + ")"
}

func deferFor(in time.Duration, reason string) error { return &deferral{reason: reason, in: in} }

// deferUntil is deferFor for a hold with a release instant (quiet hours, the
// messaging limit), which must come back within a second of it: asynq keeps
// retry times in whole seconds, so the task comes back up to a second early
// (never late, but for the forwarder's tick), and the compliance stage
// waits the rest out in place (see releaseWait).
func deferUntil(in time.Duration, reason string) error {
	return &deferral{reason: reason, in: in, exact: true}
}

// isFailure tells asynq which errors use up an attempt: all but deferrals.
func isFailure(err error) bool {
	var d *deferral
	return !errors.As(err, &d)
}

// retryDelay is asynq's RetryDelayFunc: a deferral comes back after its own
// delay; a transient failure after an exponential backoff from about a second,
// with jitter, at most maxBackoff.
func retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var d *deferral
	if errors.As(err, &d) && d.exact {
		return max(d.in, 0)
	}
	if errors.As(err, &d) {
		// asynq keeps retry times in whole seconds and may run a task up to a
		// second early: add one so that "no sooner than" holds.
		return d.in + time.Second
	}
	return backoff(n, rand.Float64())
}

const (
	baseBackoff = time.Second
	maxBackoff  = 5 * time.Minute
)

// backoff is the delay before retry n+1 (n failures so far): base·2ⁿ, capped,
// scaled by a jitter factor in [0.75, 1.25) drawn from u in [0, 1).
func backoff(n int, u float64) time.Duration {
	d := maxBackoff
	if n < 20 {
		d = min(baseBackoff<<n, maxBackoff)
	}
	return time.Duration(float64(d) * (0.75 + u/2))
}
