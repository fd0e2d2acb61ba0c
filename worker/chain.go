package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// handle is the chain every message goes through: decode → expiry → claim
// (finished? campaign cancelled or paused? another run sending it?) → session
// window → rate limit → API call → classify → record.
//
// Its result tells asynq what to do: nil (done), a deferral (come back later,
// no attempt used), a failure (retry with backoff) or SkipRetry (failed for
// good). The outcome record is written before the result is returned.
func (w *Worker) handle(ctx context.Context, t *asynq.Task) error {
	start := w.now()
	m, err := tasks.DecodeTask(t.Type(), t.Payload())
	if err != nil {
		return w.undecodable(ctx, t, err)
	}
	j := &job{w: w, m: m, token: newToken(), start: start}
	err = j.run(ctx)
	w.m.observeHandled(m, j.result, w.now().Sub(start))
	return err
}

// job is one run of the handler for one message.
type job struct {
	w      *Worker
	m      *tasks.Message
	log    *slog.Logger // made when first needed (see logger): most runs log nothing
	token  string       // names this run's send lease
	calls  int          // API calls made for the message before this run
	start  time.Time
	result string // what the run came to, for metrics
	inGate bool   // the run holds a place in its channel's gate
}

// logger is the run's logger, which names the message.
func (j *job) logger() *slog.Logger {
	if j.log == nil {
		m := j.m
		j.log = j.w.log.With("message_id", m.ID, "channel", string(m.Channel), "kind", string(m.Kind))
		if m.Campaign != "" {
			j.log = j.log.With("campaign", m.Campaign)
		}
	}
	return j.log
}

func (j *job) run(ctx context.Context) error {
	w, m := j.w, j.m
	now := w.now()

	if exp := j.expiresAt(); !now.Before(exp) {
		return j.expire(ctx, now)
	}
	if d := m.NotBefore.Sub(now); d > time.Second {
		j.result = "early"
		return deferFor(d, "scheduled")
	}

	// The claim goes to Redis in one round trip with what comes next: the
	// session window to look up (text and media on a channel with one), or
	// else the rate-limit reservation (a slot taken by a message that turns
	// out finished is simply not used).
	windowed := w.sessions.Applies(m)
	j.inGate = !windowed && j.gate().tryEnter()
	defer j.leaveGate()
	var claimed func() (outcome.Claim, error)
	var looked func() (session.Status, error)
	var reserved func() (ratelimit.Reservation, error)
	w.batch.do(ctx, func(p redis.Pipeliner) {
		claimed = w.outcomes.ClaimIn(ctx, p, m, j.token, j.lease(), order(m), j.member(), now)
		if windowed {
			looked = w.sessions.LookupIn(ctx, p, m, now)
		} else if j.inGate {
			reserved = w.limiter.ReserveIn(ctx, p, j.slotRequest())
		}
	})
	claim, err := claimed()
	if err != nil {
		return j.redisDown(err)
	}
	var pre *ratelimit.Reservation
	if reserved != nil {
		if r, rerr := reserved(); rerr == nil {
			pre = &r
		}
	}
	j.calls = claim.Attempts
	switch claim.Status {
	case outcome.AlreadyDone:
		j.result = "duplicate"
		return nil
	case outcome.CampaignCancel:
		j.result = "cancelled"
		return nil
	case outcome.CampaignPaused:
		j.result = "paused"
		return deferFor(w.cfg.Recheck, "campaign paused")
	case outcome.Busy:
		j.result = "busy"
		return deferFor(claim.Wait, "another worker is sending it")
	}

	// The lease is the guard against a second send: with WaitReplicas it
	// must be on the replicas before the call, or a failover could promote
	// a replica without it and let another run send the message again. It
	// is waited for here, before the wait for a slot, so that the round
	// trip does not make the send late.
	if got, err := w.replicated(ctx); err != nil || got < w.cfg.WaitReplicas {
		if err == nil {
			err = fmt.Errorf("the send lease reached %d of %d replicas", got, w.cfg.WaitReplicas)
		}
		return j.release(ctx, err)
	}
	if windowed {
		st, err := looked()
		if err != nil {
			return j.release(ctx, err)
		}
		if err := j.checkWindow(ctx, st, now); err != nil {
			return err
		}
	}
	if err := j.waitForSlot(ctx, pre); err != nil {
		return err
	}
	if claim.Ambiguous {
		if sent, err := j.alreadySent(ctx); sent || err != nil {
			return err
		}
	}
	return j.send(ctx, claim.Attempts)
}

// undecodable fails a task whose payload cannot be read: never retried, and
// recorded when its id can be found.
func (w *Worker) undecodable(ctx context.Context, t *asynq.Task, cause error) error {
	var head struct {
		ID       string        `json:"id"`
		Channel  tasks.Channel `json:"ch"`
		Kind     tasks.Kind    `json:"k"`
		Campaign string        `json:"cp"`
	}
	if json.Unmarshal(t.Payload(), &head) == nil && head.ID != "" && len(head.ID) <= 200 {
		m := &tasks.Message{ID: head.ID, Channel: head.Channel, Kind: head.Kind, Campaign: head.Campaign}
		if _, err := w.outcomes.Finish(ctx, m, "", outcome.Result{State: outcome.Failed, Error: "invalid message: " + cause.Error()}, w.now()); err != nil {
			w.log.Error("redis error", "error", err)
			return fmt.Errorf("redis: %w", err)
		}
	}
	w.log.Warn("invalid task payload; failed without retry", "type", t.Type(), "error", cause)
	w.m.invalid()
	return fmt.Errorf("%w: %v", asynq.SkipRetry, cause)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
