package worker

import (
	"context"
	"time"

	"github.com/sendq/sendq/internal/outcome"
)

// checkExpiry is the chain's first stage: a message past its expiry is
// recorded expired and goes no further; one scheduled more than a second
// ahead comes back then.
func (j *job) checkExpiry(ctx context.Context, now time.Time) error {
	if exp := j.expiresAt(); !now.Before(exp) {
		return j.expire(ctx, now)
	}
	if d := j.m.NotBefore.Sub(now); d > time.Second {
		j.result = "early"
		return deferFor(d, "scheduled")
	}
	return nil
}

// expiresAt is the message's expiry, or its creation plus the default.
func (j *job) expiresAt() time.Time {
	if !j.m.ExpiresAt.IsZero() {
		return j.m.ExpiresAt
	}
	created := j.m.CreatedAt
	if created.IsZero() {
		created = j.start
	}
	return created.Add(j.w.cfg.DefaultExpiry)
}

// expire records the message expired, without a lease: no run may send it
// from now on.
func (j *job) expire(ctx context.Context, now time.Time) error {
	j.result = "expired"
	if _, err := j.w.records.Finish(ctx, j.m, "", outcome.Result{State: outcome.Expired, Error: "not sent before it expired"}, now); err != nil {
		return j.redisDown(err)
	}
	j.logger().Info("message expired")
	return errDone
}
