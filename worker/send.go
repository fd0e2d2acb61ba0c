package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/whautomate"
)

// send is the chain's last stage: it calls the API and does what the
// answer's class calls for (see actions), which ends with its record.
func (j *job) send(ctx context.Context) error {
	w, m := j.w, j.m
	// The call runs to its own timeout even when shutdown cancels ctx: a send
	// cut off half way is ambiguous, a finished one is recorded.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.SendTimeout)
	callStart := w.now()
	res, err := j.a.api.Send(sctx, m)
	cancel()
	c := answer{res: res, err: err, class: whautomate.Classify(err), at: callStart}
	w.m.observeCall(j.a.id, m.Channel, c.class, w.now().Sub(callStart))
	if err := j.settleProbe(ctx, c.class); err != nil {
		return err
	}
	j.result = c.class.String()
	act, ok := actions[c.class]
	if !ok {
		act = (*job).transient
	}
	return act(j, ctx, c)
}

// answer is what the API made of a send.
type answer struct {
	res   *whautomate.SendResult
	err   error
	class whautomate.Class
	at    time.Time // when the call started
}

// actions maps each class of answer to what the worker does about it; a
// class not listed is transient.
var actions = map[whautomate.Class]func(*job, context.Context, answer) error{
	whautomate.Sent:                 (*job).sent,
	whautomate.Permanent:            (*job).failed,
	whautomate.SessionClosed:        (*job).outsideWindow,
	whautomate.RateLimited:          (*job).rateLimited,
	whautomate.RecipientRateLimited: (*job).recipientRateLimited,
	whautomate.Configuration:        (*job).hold,
	whautomate.AccountBlocked:       (*job).hold,
	whautomate.Transient:            (*job).transient,
	whautomate.MarketingCapped:      (*job).marketingCapped,
}

// attemptLog is the run's logger naming the attempt that made the call.
func (j *job) attemptLog() *slog.Logger {
	return j.logger().With("attempt", j.claimed.Attempts+1)
}

// sent records the message sent.
func (j *job) sent(ctx context.Context, a answer) error {
	upstream := ""
	if a.res != nil {
		upstream = a.res.ID
	}
	return j.finish(ctx, outcome.Result{State: outcome.Sent, Calls: 1, UpstreamID: upstream, Error: ""})
}

// failed records a refusal the upstream will not change its mind on.
func (j *job) failed(ctx context.Context, a answer) error {
	j.attemptLog().Warn("message failed", "error", logErr(a.err))
	return j.fail(ctx, errText(a.err), a.err)
}

// fail records the message failed for good, for reason, and tells asynq not
// to retry.
func (j *job) fail(ctx context.Context, reason string, cause error) error {
	j.forgetPlace(ctx) // the send did not go: its messaging-limit place is free
	if err := j.finish(ctx, outcome.Result{State: outcome.Failed, Calls: 1, Error: reason}); err != nil {
		return err
	}
	return fmt.Errorf("%w: %v", asynq.SkipRetry, cause)
}

// outsideWindow notes the contact's window closed and parks the message
// until it opens. The refusal speaks of the window as it was when the call
// started, so that is when it is recorded: a contact who wrote while the call
// was out has opened the window since, and the message comes back at once
// (its call counted) instead of waiting for a message the contact already
// wrote.
func (j *job) outsideWindow(ctx context.Context, a answer) error {
	if err := j.w.windows.RecordClosed(ctx, j.m, a.at); err != nil {
		return j.release(ctx, err)
	}
	j.forgetPlace(ctx)
	const reason = "the upstream refused it as outside the 24-hour window"
	if err := j.park(ctx, 1, reason); !errors.Is(err, errWindowOpen) {
		return err
	}
	j.result = "window_reopened"
	return j.retryLater(ctx, 0, reason+"; the contact has written since", a.err)
}

// marketingCapped answers Meta 131049, the per-user marketing cap: the
// recipient has had their share of marketing for now, so this message is
// not tried again for 24 hours (or until its expiry, which then ends it);
// nothing else waits. The send did not go: its messaging-limit place is
// given back.
func (j *job) marketingCapped(ctx context.Context, a answer) error {
	j.forgetPlace(ctx)
	d := min(marketingCapWait, max(j.expiresAt().Sub(j.w.now()), 0))
	j.attemptLog().Info("per-user marketing cap: not retried for 24 hours", "retry_in", d, "error", logErr(a.err))
	return j.retryLater(ctx, d, "per-user marketing cap (Meta 131049): not retried within 24 hours", a.err)
}

// marketingCapWait is how long a message Meta refused with 131049 waits
// (docs/whautomate-api.md).
const marketingCapWait = 24 * time.Hour

// rateLimited cools down for as long as the upstream asks (a second if it
// does not say) and brings the message back then: the whole account after
// an HTTP 429 (its budget is spent, whatever the channel), the channel after
// a Meta throughput code.
func (j *job) rateLimited(ctx context.Context, a answer) error {
	d := whautomate.RetryAfter(a.err)
	if d <= 0 {
		d = time.Second
	}
	t, what := j.channel(), "channel"
	if whautomate.AccountLimited(a.err) {
		t, what = j.account(), "account"
	}
	if err := j.w.slots.Cooldown(ctx, t, d); err != nil {
		return j.release(ctx, err)
	}
	j.attemptLog().Warn("rate limited by the upstream; "+what+" cooling down", "retry_in", d)
	return j.retryLater(ctx, d, "rate limited by the upstream", a.err)
}

// recipientRateLimited backs off the recipient (a longer pause each time)
// and brings the message back after it.
func (j *job) recipientRateLimited(ctx context.Context, a answer) error {
	t := j.channel()
	t.Recipient = j.m.To.Key()
	d, err := j.w.slots.PenalizeRecipient(ctx, t)
	if err != nil {
		return j.release(ctx, err)
	}
	j.attemptLog().Warn("pair rate limit hit; backing off this recipient", "retry_in", d)
	return j.retryLater(ctx, d, "recipient rate limited", a.err)
}

// hold stops sends for Hold after the upstream refused the account's key or
// location (the whole account: messages wait, none fail), or blocked the
// account on this channel (that channel of the account); then one probe at
// a time, every Hold, checks whether it is fixed (see settleProbe).
func (j *job) hold(ctx context.Context, a answer) error {
	w, m := j.w, j.m
	t, what := j.account(), "account"
	if a.class == whautomate.AccountBlocked {
		t, what = j.channel(), "channel"
	}
	if err := w.slots.Hold(ctx, t, w.cfg.Hold); err != nil {
		return j.release(ctx, err)
	}
	w.m.held(j.a.id, m.Channel, a.class)
	j.attemptLog().Error("the upstream refused the account or key; holding the "+what+" (messages wait, none fail)",
		"class", a.class.String(), "retry_in", w.cfg.Hold, "error", logErr(a.err))
	return j.retryLater(ctx, w.cfg.Hold, a.class.String(), a.err)
}

// settleProbe reports the answer of a probe of a hold (a call made with a
// slot the limiter marked Probe): an answer that shows the upstream took
// the account's key and location lifts the hold at once, for every worker;
// a refusal holds again, through hold (for a send) or here (for a look-up);
// any other answer leaves the hold to let the next probe through when this
// one's lease ends.
func (j *job) settleProbe(ctx context.Context, class whautomate.Class) error {
	if !j.probe {
		return nil
	}
	j.probe = false
	switch class {
	case whautomate.Sent, whautomate.Permanent, whautomate.SessionClosed, whautomate.RecipientRateLimited:
		for _, t := range []ratelimit.Target{j.account(), j.channel()} {
			lifted, err := j.w.slots.Unhold(ctx, t)
			if err != nil {
				return j.release(ctx, err)
			}
			if lifted {
				j.logger().Info("the upstream accepts the account again; hold lifted", "class", class.String())
			}
		}
	}
	return nil
}

// lookupAnswered settles a look-up's part in a hold: it may have been the
// probe (see settleProbe), and a refused key holds the account as a refused
// send does.
func (j *job) lookupAnswered(ctx context.Context, err error) error {
	class := whautomate.Classify(err)
	if class == whautomate.Configuration {
		j.probe = false
		if herr := j.w.slots.Hold(ctx, j.account(), j.w.cfg.Hold); herr != nil {
			return j.release(ctx, herr)
		}
		return j.retryLater(ctx, j.w.cfg.Hold, class.String(), err)
	}
	return j.settleProbe(ctx, class)
}

// account is the rate-limit target of the whole account.
func (j *job) account() ratelimit.Target { return ratelimit.Target{Scope: j.a.id} }

// channel is the rate-limit target of the message's channel of its account.
func (j *job) channel() ratelimit.Target {
	return ratelimit.Target{Scope: j.a.id, Key: string(j.m.Channel)}
}

// transient retries the message with backoff, until its last attempt.
// asynq's retry count is the number of failed runs so far: only transient
// failures (and crashes) count, never waits.
func (j *job) transient(ctx context.Context, a answer) error {
	failures := 1
	if n, ok := asynq.GetRetryCount(ctx); ok {
		failures += n
	}
	if failures >= j.w.cfg.MaxAttempts {
		j.attemptLog().Warn("message failed after its last attempt", "error", logErr(a.err), "failures", failures)
		return j.fail(ctx, fmt.Sprintf("gave up after %d failed attempts: %s", failures, errText(a.err)), a.err)
	}
	if whautomate.Ambiguous(a.err) {
		// It may have gone out: the next run checks before sending again.
		if err := j.lease.MarkAmbiguous(ctx); err != nil {
			return j.redisDown(err)
		}
	}
	j.attemptLog().Info("transient failure; will retry", "error", logErr(a.err))
	if err := j.lease.Retry(ctx, errText(a.err), 1); err != nil {
		return j.redisDown(err)
	}
	return fmt.Errorf("transient: %w", a.err)
}

// retryLater records a call that did not count against the attempts and
// brings the message back after d.
func (j *job) retryLater(ctx context.Context, d time.Duration, reason string, cause error) error {
	if err := j.lease.Retry(ctx, reason+": "+errText(cause), 1); err != nil {
		return j.redisDown(err)
	}
	return deferFor(d, reason)
}

// errText is an API error as recorded: the upstream's reason, never a secret.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var apiErr *whautomate.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Error()
	}
	return err.Error()
}

// logErr is an API error as logged: its HTTP status and upstream code, or
// the transport failure — never the upstream's message, which may quote a
// phone number or the text sent (the outcome record keeps the full reason).
func logErr(err error) string {
	var apiErr *whautomate.APIError
	if errors.As(err, &apiErr) {
		if apiErr.HasCode {
			return fmt.Sprintf("API answered %d (code %d)", apiErr.Status, apiErr.Code)
		}
		return fmt.Sprintf("API answered %d", apiErr.Status)
	}
	return err.Error()
}
