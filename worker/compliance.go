package worker

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/compliance"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/tasks"
)

// The reasons of the compliance stage, as the outcome record and the
// metrics name them (README "Compliance").
const (
	reasonOptedOut       = "opted_out"
	reasonQuietHours     = "quiet_hours"
	reasonMessagingLimit = "messaging_limit"
)

// releaseWait is the longest a held message that comes back before its
// release waits for it in place. asynq keeps retry times in whole seconds
// and forwards them every DelayedTaskCheckInterval, so a hold brought back
// by deferUntil comes back up to a second early; waiting that out in place
// releases it within milliseconds of its not_before instead of a second
// or more late.
const releaseWait = 1500 * time.Millisecond

// screen is what the compliance stage learnt with the claim.
type screen struct {
	optedOut func() (bool, error)           // the opt-out list's answer; nil: not asked (not marketing)
	window   func() (session.Status, error) // the window, for the messaging limit; nil: the limit does not apply
	zones    []*time.Location               // the recipient's zones, once worked out
	tookAt   time.Time                      // when this run's Take counted the recipient (zero: it did not)
}

// limited reports whether the messaging limit applies to the message: a
// WhatsApp template of an account with a limit. Whether it opens a
// conversation (the window is not open) is for the stage to find out.
func (j *job) limited() bool {
	return j.a.msgLimit > 0 && j.m.Kind == tasks.KindTemplate && j.m.Channel == tasks.WhatsApp
}

// quiet reports whether quiet hours apply to the message: a marketing
// template of an account with quiet hours.
func (j *job) quiet() bool { return !j.a.quiet.IsZero() && j.m.IsMarketing() }

// screenIn queues on p, with the claim, what the compliance stage asks:
// whether a marketing template's recipient opted out, and whether the
// window of a template the messaging limit applies to is open.
func (j *job) screenIn(ctx context.Context, p redis.Pipeliner, now time.Time) {
	w, m := j.w, j.m
	if m.IsMarketing() {
		j.screen.optedOut = w.optOuts.CheckIn(ctx, p, j.a.space, m.Channel, m.To)
	}
	if j.limited() {
		j.screen.window = w.windows.LookupIn(ctx, p, m, now)
	}
}

// quietRelease returns, for a message quiet hours apply to, when they end
// for its recipient if they hold at now.
func (j *job) quietRelease(now time.Time) (time.Time, bool) {
	if !j.quiet() {
		return now, false
	}
	if j.screen.zones == nil {
		j.screen.zones = compliance.Zones(j.m.To.Phone, j.a.timezone)
	}
	return j.a.quiet.Release(now, j.screen.zones)
}

// awaitRelease runs before the claim: a marketing message that comes back
// a moment before its quiet hours end (see releaseWait) waits for the end
// in place, holding nothing, and returns the time it goes on at.
func (j *job) awaitRelease(ctx context.Context, now time.Time) (time.Time, error) {
	until, quiet := j.quietRelease(now)
	if !quiet || until.Sub(now) > releaseWait {
		return now, nil
	}
	if err := sleep(ctx, until.Sub(now)); err != nil {
		j.result = "shutdown"
		return now, deferFor(0, "worker shut down")
	}
	return j.w.now(), nil
}

// checkCompliance is the chain's compliance stage (README "Compliance"),
// for marketing templates and, with a messaging limit, WhatsApp templates;
// other messages pass untouched. A marketing template to a recipient on the
// opt-out list ends suppressed without a call; one within the recipient's
// quiet hours waits, scheduled, until they end; a template that opens a
// conversation (the recipient's window is not open) takes a place of the
// account's messaging limit, or waits, scheduled, until one frees.
func (j *job) checkCompliance(ctx context.Context) error {
	if f := j.screen.optedOut; f != nil {
		out, err := f()
		if err != nil {
			return j.release(ctx, err)
		}
		if out {
			return j.suppress(ctx)
		}
	}
	if until, quiet := j.quietRelease(j.w.now()); quiet {
		return j.holdUntil(ctx, until, reasonQuietHours)
	}
	if j.screen.window != nil {
		return j.takePlace(ctx)
	}
	return nil
}

// suppress records the message suppressed: its recipient opted out.
func (j *job) suppress(ctx context.Context) error {
	if err := j.finish(ctx, outcome.Result{State: outcome.Suppressed, Reason: reasonOptedOut}); err != nil {
		return err
	}
	j.result = "suppressed"
	j.w.m.suppressed(j.a.id, j.m.Channel, reasonOptedOut)
	j.logger().Info("marketing message suppressed: the recipient opted out")
	return errDone
}

// takePlace applies the messaging limit to a template whose window is not
// open: the recipient takes a place (or has one already) and the message
// goes on, or it waits until a place frees. A refusal that frees within
// releaseWait (a hold come back a moment early) is waited out in place.
func (j *job) takePlace(ctx context.Context) error {
	w, m := j.w, j.m
	st, err := j.screen.window()
	if err != nil {
		return j.release(ctx, err)
	}
	if st == session.Open {
		return nil // inside the window: the conversation is open, nothing counts
	}
	for waited := false; ; waited = true {
		now := w.now()
		ok, until, err := w.limits.Take(ctx, j.a.space, m.To.Key(), j.a.msgLimit, m.Campaign == "", now)
		if err != nil {
			return j.release(ctx, err)
		}
		if ok {
			j.screen.tookAt = now
			return nil
		}
		if waited || until.Sub(now) > releaseWait {
			return j.holdUntil(ctx, until, reasonMessagingLimit)
		}
		j.leaveGate()
		if err := sleep(ctx, until.Sub(now)); err != nil {
			return j.release(ctx, err)
		}
	}
}

// forgetPlace gives back the messaging-limit place this run's Take counted,
// for a send that did not go. A failure to is logged: the place frees
// itself after 24 hours.
func (j *job) forgetPlace(ctx context.Context) {
	if j.screen.tookAt.IsZero() {
		return
	}
	if _, err := j.w.limits.Forget(context.WithoutCancel(ctx), j.a.space, j.m.To.Key(), j.screen.tookAt); err != nil {
		j.logger().Warn("could not give back a messaging-limit place", "error", err)
	}
	j.screen.tookAt = time.Time{}
}

// holdUntil sets the message aside, scheduled, until until for reason, and
// brings it back then (or at its expiry, if that comes first).
func (j *job) holdUntil(ctx context.Context, until time.Time, reason string) error {
	if err := j.lease.Hold(ctx, outcome.Schedule{NotBefore: until, Reason: reason}); err != nil {
		return j.release(ctx, err)
	}
	j.result = "held_" + reason
	j.w.m.heldFor(j.a.id, j.m.Channel, reason)
	now := j.w.now()
	back := min(until.Sub(now), j.expiresAt().Sub(now))
	j.logger().Info("message held", "reason", reason, "retry_in", back.Round(time.Second))
	return deferUntil(back, "held: "+reason)
}
