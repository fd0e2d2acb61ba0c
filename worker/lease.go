package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/tasks"
)

// lease covers the longest a run may hold a message: a limiter wait, the
// window probe and the API call, with a margin.
func (j *job) lease() time.Duration {
	return j.w.cfg.MaxBlock + 2*j.w.cfg.SendTimeout + 5*time.Second
}

// finish records the API's final answer. The answer is a fact that cannot be
// asked for again, so a Redis that does not take it is tried again for as
// long as the lease lasts (a restart, a failover) — even through shutdown.
func (j *job) finish(ctx context.Context, r outcome.Result) error {
	ctx = context.WithoutCancel(ctx)
	deadline := j.start.Add(j.lease() - time.Second)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		var finished func() (outcome.State, error)
		j.w.batch.do(ctx, func(p redis.Pipeliner) {
			finished = j.w.outcomes.FinishIn(ctx, p, j.m, j.token, r, j.w.now())
		})
		_, err := finished()
		if err == nil {
			// With WaitReplicas the outcome is recorded once the replicas
			// have it: one a failover lost would leave the message leased
			// and, when the lease ends, ambiguous, to be sent again. Until
			// they have it, Finish goes again (it changes nothing twice).
			got, werr := j.w.replicated(ctx)
			if werr == nil && got >= j.w.cfg.WaitReplicas {
				break
			}
			err = fmt.Errorf("the outcome reached %d of %d replicas: %v", got, j.w.cfg.WaitReplicas, werr)
		}
		if j.w.now().Add(wait).After(deadline) {
			// The lease ends unrecorded: the next run finds the message
			// ambiguous and checks before sending again.
			return j.redisDown(err)
		}
		j.logger().Warn("cannot record the outcome yet; retrying", "error", err, "retry_in", wait)
		_ = sleep(ctx, wait)
	}
	if r.State == outcome.Sent && j.w.log.Enabled(ctx, slog.LevelDebug) {
		j.logger().Debug("message sent")
	}
	return nil
}

// giveBack returns the send lease without changing anything else.
func (j *job) giveBack(ctx context.Context) error {
	if err := j.returnLease(ctx); err != nil {
		return j.redisDown(err)
	}
	return nil
}

// returnLease releases the run's send lease; the record is otherwise left
// as it is.
func (j *job) returnLease(ctx context.Context) error {
	_, err := j.w.outcomes.Park(ctx, j.m, j.token, "", outcome.KeepError, 0, 0, nil, 0, "", j.w.now())
	return err
}

// release gives the lease back after an error before any API call, and
// returns the error as a failure so that asynq retries.
func (j *job) release(ctx context.Context, cause error) error {
	if errors.Is(cause, context.Canceled) {
		// Shutting down before the call: nothing happened, try again soon.
		_ = j.giveBack(context.WithoutCancel(ctx))
		j.result = "shutdown"
		return deferFor(0, "worker shut down")
	}
	j.giveBackSoon(ctx)
	return j.redisDown(cause)
}

// giveBackSoon gives the lease back and, while Redis cannot take it (a
// failover under way), tries again for about 3 s: a lease left behind holds
// the message until the lease ends, a minute or so later.
func (j *job) giveBackSoon(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		if err := j.returnLease(ctx); err == nil || wait > 2*time.Second {
			return
		}
		_ = sleep(ctx, wait)
	}
}

// redisDown reports a failure to reach Redis. asynq retries the task (its
// state in Redis is as reachable as ours).
func (j *job) redisDown(err error) error {
	j.result = "redis_error"
	j.logger().Error("redis error", "error", err)
	return fmt.Errorf("redis: %w", err)
}

// member names the message in the sets of waiting and held messages.
func (j *job) member() string {
	return session.Member(keys.Queue(string(j.m.Channel), j.m.Campaign != ""), j.m.ID)
}

// order ranks messages in enqueue order (microseconds fit a float64 exactly).
func order(m *tasks.Message) float64 { return float64(m.CreatedAt.UnixMicro()) }

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
