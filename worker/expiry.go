package worker

import (
	"context"
	"time"

	"github.com/sendq/sendq/internal/outcome"
)

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

func (j *job) expire(ctx context.Context, now time.Time) error {
	j.result = "expired"
	if _, err := j.w.outcomes.Finish(ctx, j.m, "", outcome.Result{State: outcome.Expired, Error: "not sent before it expired"}, now); err != nil {
		return j.redisDown(err)
	}
	j.logger().Info("message expired")
	return nil
}
