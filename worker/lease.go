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

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// A lease is a run's hold on its message: the claim takes it, it keeps any
// other run from sending the message meanwhile, and every way the run ends
// gives it back through one of the methods below, each named for what the
// run came to.
type lease struct {
	records records
	m       *tasks.Message
	token   string // names this run's lease
	now     func() time.Time
}

func (w *Worker) newLease(m *tasks.Message) *lease {
	return &lease{records: w.records, m: m, token: newToken(), now: w.now}
}

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ClaimIn queues on p the claim of the lease, for d (see outcome.Store.ClaimIn).
func (l *lease) ClaimIn(ctx context.Context, p redis.Pipeliner, d time.Duration, now time.Time) func() (outcome.Claim, error) {
	return l.records.ClaimIn(ctx, p, l.m, l.token, d, now)
}

// FinishIn queues on p the record of how the message ended, giving the lease back.
func (l *lease) FinishIn(ctx context.Context, p redis.Pipeliner, r outcome.Result) func() (outcome.State, error) {
	return l.records.FinishIn(ctx, p, l.m, l.token, r, l.now())
}

// Finish records how the message ended and gives the lease back.
func (l *lease) Finish(ctx context.Context, r outcome.Result) error {
	_, err := l.records.Finish(ctx, l.m, l.token, r, l.now())
	return err
}

// Return gives the lease back; nothing else changes.
func (l *lease) Return(ctx context.Context) error {
	return l.records.ReturnLease(ctx, l.m, l.token, l.now())
}

// Retry records the message retrying after calls API calls, for reason, and
// gives the lease back.
func (l *lease) Retry(ctx context.Context, reason string, calls int) error {
	return l.records.Retry(ctx, l.m, l.token, reason, calls, l.now())
}

// ParkForWindow sets the message aside until its contact's window (of
// length window) opens, after calls API calls, and gives the lease back —
// unless the window opened meanwhile: then the lease is kept and opened is
// true.
func (l *lease) ParkForWindow(ctx context.Context, reason string, calls int, window time.Duration) (opened bool, err error) {
	return l.records.ParkForWindow(ctx, l.m, l.token, reason, calls, window, l.now())
}

// Hold sets the message aside until sched.NotBefore, for sched.Reason,
// as scheduled, and gives the lease back.
func (l *lease) Hold(ctx context.Context, sched outcome.Schedule) error {
	_, err := l.records.Hold(ctx, l.m, l.token, sched, l.now())
	return err
}

// MarkAmbiguous notes that the run's call may have sent the message without
// an answer: the next run checks before sending again.
func (l *lease) MarkAmbiguous(ctx context.Context) error {
	return l.records.MarkAmbiguous(ctx, l.m)
}

// claim is the chain's lease stage: it takes the send lease, unless the
// message is finished (the run ends) or another run holds it (the message
// comes back when that lease ends). The claim goes to Redis in one round
// trip with what comes next: the session window to look up (text and media
// on a channel with one), or else the rate-limit reservation (a slot taken
// by a message that turns out finished is simply not used), and what the
// compliance stage asks (a marketing template's opt-out, a template's window
// for the messaging limit; such a message reserves its slot after that
// stage).
func (j *job) claim(ctx context.Context, now time.Time) error {
	w, m := j.w, j.m
	windowed := w.windows.Applies(m)
	j.inGate = !windowed && j.gate().tryEnter()
	var claimed func() (outcome.Claim, error)
	var reserved func() (ratelimit.Reservation, error)
	// A message the compliance stage may set aside reserves its slot after
	// it: a slot reserved for a message that does not go is lost to others.
	screened := m.IsMarketing() || j.limited()
	w.batch.do(ctx, func(p redis.Pipeliner) {
		claimed = j.lease.ClaimIn(ctx, p, j.leaseTime(), now)
		if windowed {
			j.looked = w.windows.LookupIn(ctx, p, m, now)
		} else if j.inGate && !screened {
			reserved = w.slots.ReserveIn(ctx, p, j.slotRequest())
		}
		j.screenIn(ctx, p, now) // compliance.go: the opt-out list, the window for the messaging limit
	})
	c, err := claimed()
	if err != nil {
		return j.redisDown(err)
	}
	j.claimed = c
	if reserved != nil {
		if r, rerr := reserved(); rerr == nil {
			j.pre = &r
		}
	}
	switch c.Status {
	case outcome.AlreadyDone:
		j.result = "duplicate"
		return errDone
	case outcome.Busy:
		j.result = "busy"
		return deferFor(c.Wait, "another worker is sending it")
	}
	return nil
}

// leaseTime covers the longest a run may hold a message: a limiter wait,
// the window probe and the API call, with a margin.
func (j *job) leaseTime() time.Duration {
	return j.w.cfg.MaxBlock + 2*j.w.cfg.SendTimeout + 5*time.Second
}

// finish records the API's final answer. The answer is a fact that cannot be
// asked for again, so a Redis that does not take it is tried again for as
// long as the lease lasts (a restart, a failover) — even through shutdown.
func (j *job) finish(ctx context.Context, r outcome.Result) error {
	ctx = context.WithoutCancel(ctx)
	deadline := j.start.Add(j.leaseTime() - time.Second)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		var finished func() (outcome.State, error)
		j.w.batch.do(ctx, func(p redis.Pipeliner) {
			finished = j.lease.FinishIn(ctx, p, r)
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
	if err := j.lease.Return(ctx); err != nil {
		return j.redisDown(err)
	}
	return nil
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
		if err := j.lease.Return(ctx); err == nil || wait > 2*time.Second {
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
