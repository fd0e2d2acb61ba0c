package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/whautomate"
)

// send calls the API and records what came of it.
func (j *job) send(ctx context.Context, attempts int) error {
	w, m := j.w, j.m
	// The call runs to its own timeout even when shutdown cancels ctx: a send
	// cut off half way is ambiguous, a finished one is recorded.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.SendTimeout)
	callStart := w.now()
	res, err := w.api.Send(sctx, m)
	cancel()
	class := whautomate.Classify(err)
	w.m.observeCall(m.Channel, class, w.now().Sub(callStart))
	j.result = class.String()
	attempt := attempts + 1
	log := func() *slog.Logger { return j.logger().With("attempt", attempt) }

	switch class {
	case whautomate.Sent:
		upstream := ""
		if res != nil {
			upstream = res.ID
		}
		return j.finish(ctx, outcome.Result{State: outcome.Sent, Calls: 1, UpstreamID: upstream, Error: ""})

	case whautomate.Permanent:
		log().Warn("message failed", "error", logErr(err))
		if ferr := j.finish(ctx, outcome.Result{State: outcome.Failed, Calls: 1, Error: errText(err)}); ferr != nil {
			return ferr
		}
		return fmt.Errorf("%w: %v", asynq.SkipRetry, err)

	case whautomate.SessionClosed:
		if err := w.sessions.RecordClosed(ctx, m, w.now()); err != nil {
			return j.release(ctx, err)
		}
		return j.park(ctx, 1, "the upstream refused it as outside the 24-hour window")

	case whautomate.RateLimited:
		d := whautomate.RetryAfter(err)
		if d <= 0 {
			d = time.Second
		}
		if cerr := w.limiter.Cooldown(ctx, string(m.Channel), "", d); cerr != nil {
			return j.release(ctx, cerr)
		}
		log().Warn("rate limited by the upstream; channel cooling down", "retry_in", d)
		return j.retryLater(ctx, d, "rate limited by the upstream", err)

	case whautomate.RecipientRateLimited:
		d, perr := w.limiter.PenalizeRecipient(ctx, string(m.Channel), m.To.Key())
		if perr != nil {
			return j.release(ctx, perr)
		}
		log().Warn("pair rate limit hit; backing off this recipient", "retry_in", d)
		return j.retryLater(ctx, d, "recipient rate limited", err)

	case whautomate.Configuration, whautomate.AccountBlocked:
		if cerr := w.limiter.Cooldown(ctx, string(m.Channel), "", w.cfg.Hold); cerr != nil {
			return j.release(ctx, cerr)
		}
		w.m.held(m.Channel, class)
		log().Error("the upstream refused the account or key; holding the channel (messages wait, none fail)",
			"class", class.String(), "retry_in", w.cfg.Hold, "error", logErr(err))
		return j.retryLater(ctx, w.cfg.Hold, class.String(), err)

	default: // transient
		// asynq's retry count is the number of failed runs so far: only
		// transient failures (and crashes) count, never waits.
		failures := 1
		if n, ok := asynq.GetRetryCount(ctx); ok {
			failures += n
		}
		if failures >= w.cfg.MaxAttempts {
			log().Warn("message failed after its last attempt", "error", logErr(err), "failures", failures)
			if ferr := j.finish(ctx, outcome.Result{State: outcome.Failed, Calls: 1,
				Error: fmt.Sprintf("gave up after %d failed attempts: %s", failures, errText(err))}); ferr != nil {
				return ferr
			}
			return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
		}
		if whautomate.Ambiguous(err) {
			// It may have gone out: the next run checks before sending again.
			if merr := w.outcomes.MarkAmbiguous(ctx, m.ID); merr != nil {
				return j.redisDown(merr)
			}
		}
		log().Info("transient failure; will retry", "error", logErr(err))
		if _, ferr := w.outcomes.Park(ctx, m, j.token, outcome.Retrying, errText(err), 1, 0, nil, 0, "", w.now()); ferr != nil {
			return j.redisDown(ferr)
		}
		return fmt.Errorf("transient: %w", err)
	}
}

// retryLater records a call that did not count against the attempts and
// brings the message back after d.
func (j *job) retryLater(ctx context.Context, d time.Duration, reason string, cause error) error {
	if _, err := j.w.outcomes.Park(ctx, j.m, j.token, outcome.Retrying, reason+": "+errText(cause), 1, 0, nil, 0, "", j.w.now()); err != nil {
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
