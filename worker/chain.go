package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// handle is the chain every message goes through: decode → expiry and
// schedule → lease (finished? another run sending it?) → campaign (cancelled
// or paused?) → compliance (opted out? quiet hours? messaging limit?) →
// session window → rate limit → API call → classify → record.
// Each stage has a file of its own; run lists them in order.
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
	a := w.account(m.Account)
	if a == nil {
		return w.unconfigured(m)
	}
	j := &job{w: w, a: a, m: m, lease: w.newLease(m), start: start}
	err = j.run(ctx)
	if errors.Is(err, errDone) {
		err = nil
	}
	w.m.observeHandled(a.id, m, j.result, w.now().Sub(start))
	return err
}

// job is one run of the handler for one message.
type job struct {
	w      *Worker
	a      *account // the message's account
	m      *tasks.Message
	lease  *lease       // this run's send lease, once claimed
	log    *slog.Logger // made when first needed (see logger): most runs log nothing
	start  time.Time
	result string // what the run came to, for metrics
	inGate bool   // the run holds a place in its channel's gate
	probe  bool   // a slot the run took is the probe of a hold (see settleProbe)

	// What the claim brought back, for the stages after it.
	claimed outcome.Claim
	looked  func() (session.Status, error) // the window lookup; nil: no window applies
	pre     *ratelimit.Reservation         // a slot reserved with the claim

	campaignAt time.Time // when the campaign's state was last looked at
	screen     screen    // what the compliance stage learnt with the claim
}

// errDone ends a run that has nothing left to do (the message is finished,
// or is not to be sent): handle reports success.
var errDone = errors.New("nothing left to do")

// run takes the message through the stages in order. A stage lets it go on
// (nil) or ends the run with handle's result (errDone: nothing left to do).
func (j *job) run(ctx context.Context) error {
	now := j.w.now()
	if err := j.checkExpiry(ctx, now); err != nil { // expiry.go: expired, or not due yet
		return err
	}
	now, err := j.awaitRelease(ctx, now) // compliance.go: quiet hours ending in a moment
	if err != nil {
		return err
	}
	// The claim may take a place in the channel's gate.
	defer j.leaveGate()
	if err := j.claim(ctx, now); err != nil { // lease.go: the send lease
		return err
	}
	if err := j.checkCampaign(); err != nil { // campaign.go: cancelled or paused
		return err
	}
	if err := j.checkCompliance(ctx); err != nil { // compliance.go: opt-outs, quiet hours, messaging limit
		return err
	}
	if err := j.awaitReplicas(ctx); err != nil { // replicas.go: the lease safe from a failover
		return err
	}
	if err := j.checkWindow(ctx, now); err != nil { // window.go: the contact's 24-hour window
		return err
	}
	if err := j.waitForSlot(ctx); err != nil { // slot.go: the rate limits
		return err
	}
	if err := j.checkAmbiguous(ctx); err != nil { // ambiguous.go: sent by a run that died?
		return err
	}
	return j.send(ctx) // send.go: the call, classified, and what it calls for
}

// logger is the run's logger, which names the message.
func (j *job) logger() *slog.Logger {
	if j.log == nil {
		m := j.m
		j.log = j.w.log.With("account", j.a.id, "message_id", m.ID, "channel", string(m.Channel), "kind", string(m.Kind))
		if m.Campaign != "" {
			j.log = j.log.With("campaign", m.Campaign)
		}
	}
	return j.log
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
		if _, err := w.records.Finish(ctx, m, "", outcome.Result{State: outcome.Failed, Error: "invalid message: " + cause.Error()}, w.now()); err != nil {
			w.log.Error("redis error", "error", err)
			return fmt.Errorf("redis: %w", err)
		}
	}
	w.log.Warn("invalid task payload; failed without retry", "type", t.Type(), "error", cause)
	w.m.invalid()
	return fmt.Errorf("%w: %v", asynq.SkipRetry, cause)
}

// unconfigured leaves a message of an account this worker does not send
// for (a deployment whose processes disagree on the accounts, during a
// change of the accounts file) to a worker that does, or to this one once
// configured: it waits, untouched, and nothing fails.
func (w *Worker) unconfigured(m *tasks.Message) error {
	w.log.Warn("message of an account this worker is not configured for; it waits",
		"account", m.Account, "message_id", m.ID, "retry_in", w.cfg.Hold)
	return deferFor(w.cfg.Hold, "account not configured on this worker")
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
