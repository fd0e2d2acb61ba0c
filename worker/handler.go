package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/release"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
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

// replicated waits up to a second until every write Redis has taken so far
// is on cfg.WaitReplicas replicas, and returns how many it reached (see
// outcome.Store.Replicated).
func (w *Worker) replicated(ctx context.Context) (int, error) {
	return w.outcomes.Replicated(ctx, w.cfg.WaitReplicas)
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

// lease covers the longest a run may hold a message: a limiter wait, the
// window probe and the API call, with a margin.
func (j *job) lease() time.Duration {
	return j.w.cfg.MaxBlock + 2*j.w.cfg.SendTimeout + 5*time.Second
}

func (j *job) expire(ctx context.Context, now time.Time) error {
	j.result = "expired"
	if _, err := j.w.outcomes.Finish(ctx, j.m, "", outcome.Result{State: outcome.Expired, Error: "not sent before it expired"}, now); err != nil {
		return j.redisDown(err)
	}
	j.logger().Info("message expired")
	return nil
}

// checkWindow applies the session rule to what the lookup found (st): with
// the window known closed the message is parked without an API call; unknown
// for a contact id, the contact's latest messages are asked; otherwise the
// send is tried.
func (j *job) checkWindow(ctx context.Context, st session.Status, now time.Time) error {
	m := j.m
	if st == session.Unknown && m.To.ContactID != "" {
		st = j.probeWindow(ctx, now)
	}
	if st != session.Closed {
		return nil
	}
	return j.park(ctx, 0, "waiting for the contact's 24-hour window")
}

// probeWindow asks the contact's latest messages for the last inbound one and
// records what it finds. On any error the window stays unknown (the send is
// tried and its answer decides).
func (j *job) probeWindow(ctx context.Context, now time.Time) session.Status {
	w, m := j.w, j.m
	pctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	page, err := w.api.Messages(pctx, m.To.ContactID, 1, 25)
	if err != nil {
		j.logger().Debug("window probe failed", "error", logErr(err))
		return session.Unknown
	}
	if in, ok := latestIncoming(page, m.Channel); ok {
		if err := w.sessions.RecordInbound(ctx, m.Channel, m.To.ContactID, "", in.Timestamp); err != nil {
			return session.Unknown
		}
		if now.Before(in.Timestamp.Add(w.sessions.Window(m.Channel))) {
			return session.Open
		}
		return session.Closed
	}
	if len(page.Messages) == 0 {
		return session.Unknown // a contact with no history: let the send decide
	}
	_ = w.sessions.RecordClosed(ctx, m, now)
	return session.Closed
}

// latestIncoming is the contact's newest inbound message on ch: a message on
// another channel says nothing of this channel's window.
func latestIncoming(page *whautomate.MessagePage, ch tasks.Channel) (whautomate.Message, bool) {
	var best whautomate.Message
	found := false
	for _, pm := range page.Messages {
		if !pm.Incoming || pm.Timestamp.IsZero() || (pm.Channel != "" && pm.Channel != string(ch)) {
			continue
		}
		if !found || pm.Timestamp.After(best.Timestamp) {
			best, found = pm, true
		}
	}
	return best, found
}

// park sets the message aside until its contact writes (or a re-check, or
// its expiry), unless the window opened meanwhile.
func (j *job) park(ctx context.Context, calls int, reason string) error {
	w, m := j.w, j.m
	now := w.now()
	sessions, waiting := session.Waits(m.Channel, m.To)
	waits := make([]outcome.Wait, len(sessions))
	for i := range sessions {
		waits[i] = outcome.Wait{Session: sessions[i], Waiting: waiting[i]}
	}
	opened, err := w.outcomes.Park(ctx, m, j.token, outcome.WaitingSession, reason, calls,
		w.sessions.Window(m.Channel), waits, order(m), j.member(), now)
	if err != nil {
		return j.redisDown(err)
	}
	if opened {
		return nil // the contact wrote meanwhile: go on and send
	}
	j.result = "waiting_session"
	j.logger().Info("message waits for the session window")
	return deferFor(j.recheckIn(now), "waiting_session: "+reason)
}

// recheckIn is when a parked message is looked at again if nothing releases
// it: after a backoff that doubles with each call made (1 min, 2, 4, … up to
// Recheck), or at its expiry if that comes first. A client-id recipient,
// which no inbound event names, is only ever released this way.
func (j *job) recheckIn(now time.Time) time.Duration {
	backoff := min(time.Minute<<min(j.calls, 10), j.w.cfg.Recheck)
	return max(min(backoff, j.expiresAt().Sub(now)), 0)
}

// waitForSlot applies the channel's and the recipient's rate limits and any
// cool-down. A message reserves its slot at most Horizon ahead (a
// transactional one twice that: it is served at the end of the campaign
// messages' horizon, ahead of those still asking). A channel that is simply
// busy, or cooling down, is waited out in place — everyone on it waits
// anyway, and rescheduling would empty the queue between asynq's one-second
// retry ticks and leave slots unused; a wait longer than MaxBlock, or a
// recipient's pace past the horizon, reschedules the message.
//
// pre, when set, is a reservation already made (with the claim).
func (j *job) waitForSlot(ctx context.Context, pre *ratelimit.Reservation) error {
	w, m := j.w, j.m
	req := j.slotRequest()
	started := w.now()
	deadline := started.Add(w.cfg.MaxBlock)
	// ready looks again at a campaign message's campaign when the last look
	// (the claim's, at first) is older than the horizon, so that a pause
	// stops it within a second as promised. It is asked once the run is
	// through its channel's gate, where most of a wait goes, and at the slot.
	looked := started
	ready := func() error {
		if m.Campaign == "" || w.now().Sub(looked) <= w.cfg.Horizon {
			return nil
		}
		looked = w.now()
		st, err := w.outcomes.CampaignStateOf(ctx, m.Campaign)
		if err != nil {
			return j.release(ctx, err)
		}
		if st == outcome.CampaignRunning || st == "" {
			return nil
		}
		j.result = "paused"
		if err := j.giveBack(ctx); err != nil {
			return err
		}
		return deferFor(0, "campaign "+string(st)) // the next claim sets it aside
	}
	// The place is left at the slot, as the send goes (run's own deferred
	// leave covers the returns before the wait).
	defer j.leaveGate()
	for {
		var r ratelimit.Reservation
		if pre != nil {
			r, pre = *pre, nil
		} else {
			if !j.inGate {
				if err := j.enterGate(ctx, deadline); err != nil {
					return err
				}
				if err := ready(); err != nil {
					return err
				}
			}
			var err error
			if r, err = w.limiter.Reserve(ctx, req); err != nil {
				return j.release(ctx, err)
			}
		}
		if r.Delay > 0 {
			w.m.observeWait(m.Channel, r.Reason, r.Delay)
		}
		if !r.OK {
			// Nothing reserved: come back when a slot may be within reach
			// (a cool-down, when it ends), leaving the gate to others.
			j.leaveGate()
			wait := max(r.Delay-req.MaxWait, 5*time.Millisecond)
			if r.Reason == ratelimit.ReasonCooldown || r.Reason == ratelimit.ReasonRecipientCooldown {
				wait = r.Delay
			}
			wait += jitter(10 * time.Millisecond)
			recipient := r.Reason == ratelimit.ReasonRecipientRate || r.Reason == ratelimit.ReasonRecipientCooldown
			if (recipient && r.Delay > w.cfg.Horizon) || w.now().Add(wait).After(deadline) {
				j.result = "rate_limited"
				if err := j.giveBack(ctx); err != nil {
					return err
				}
				return deferFor(r.Delay, "rate limit: "+r.Reason)
			}
			if err := sleep(ctx, wait); err != nil {
				return j.release(ctx, err)
			}
			continue
		}
		slot := r.At()
		if r.Delay >= 10*time.Millisecond {
			// A 429 may start a cool-down while this run waits for its slot.
			// It looks for one just before the slot rather than at it, so
			// that the look's round trip does not delay the send.
			if err := sleep(ctx, slot.Sub(w.now())-cooldownLook); err != nil {
				return j.release(ctx, err)
			}
			left, _, err := w.limiter.CooldownLeft(ctx, req.Key, req.Recipient)
			if err != nil {
				return j.release(ctx, err)
			}
			if left > 0 {
				continue // the slot is given up; the next reservation reports the cool-down
			}
		}
		if err := sleep(ctx, slot.Sub(w.now())); err != nil {
			return j.release(ctx, err)
		}
		if err := ready(); err != nil {
			return err
		}
		// The upstream counts sends as they arrive. Slots are evenly spaced,
		// and so are arrivals as long as each send goes on time; one that
		// goes late (a process starved of CPU, a stalled answer) lands among
		// the sends of later slots, and with enough of them a one-second
		// window at the receiver holds more than the limit. A slot missed by
		// more than lateness allows is given up, and the run takes another.
		if !req.Limit.IsZero() && w.now().Sub(slot) > lateness(req.Limit) {
			w.m.slotMissed(m.Channel)
			continue
		}
		return nil
	}
}

// gate is the message's channel's gate (nil: none).
func (j *job) gate() *gate { return j.w.gates[j.m.Channel] }

// enterGate waits for a place in the channel's gate until deadline (the
// MaxBlock of waiting in place); a run that does not get one by then gives
// its lease back and comes back later, as one whose slot is too far off.
func (j *job) enterGate(ctx context.Context, deadline time.Time) error {
	gctx, cancel := context.WithTimeout(ctx, deadline.Sub(j.w.now()))
	err := j.gate().enter(gctx, j.m.Campaign != "")
	cancel()
	switch {
	case err == nil:
		j.inGate = true
		return nil
	case ctx.Err() != nil:
		return j.release(ctx, err)
	}
	j.result = "rate_limited"
	if err := j.giveBack(ctx); err != nil {
		return err
	}
	return deferFor(time.Second, "rate limit: "+ratelimit.ReasonRate)
}

// leaveGate leaves the channel's gate if the run is in it.
func (j *job) leaveGate() {
	if j.inGate {
		j.inGate = false
		j.gate().leave()
	}
}

// cooldownLook is how long before its slot a run looks for a cool-down.
const cooldownLook = 5 * time.Millisecond

// slotRequest is the message's rate-limit request: its channel and
// recipient, and how far ahead it may reserve (transactional messages twice
// as far as campaign ones).
func (j *job) slotRequest() ratelimit.Request {
	w, m := j.w, j.m
	req := ratelimit.Request{
		Key:            string(m.Channel),
		Limit:          w.limits[m.Channel],
		Recipient:      m.To.Key(),
		RecipientLimit: w.paces[m.Channel],
		MaxWait:        w.cfg.Horizon,
	}
	if m.Campaign == "" {
		req.MaxWait = 2 * w.cfg.Horizon
	}
	return req
}

// jitter is a random duration in [0, d), so that waiting handlers do not
// all ask again at the same instant.
func jitter(d time.Duration) time.Duration { return time.Duration(mrand.Int64N(int64(d))) }

// alreadySent looks, after an earlier run died mid-send, for the message
// among the contact's latest outgoing messages (possible for a contact-id
// recipient only): found, it is recorded sent and not sent again.
func (j *job) alreadySent(ctx context.Context) (bool, error) {
	w, m := j.w, j.m
	if m.To.ContactID == "" || m.Kind != tasks.KindText {
		// Only a contact's text can be recognised among its messages.
		w.m.ambiguous("resent")
		j.logger().Warn("an earlier attempt may have sent this message; sending again (at-least-once)")
		return false, nil
	}
	pctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	page, err := w.api.Messages(pctx, m.To.ContactID, 1, 50)
	if err != nil {
		w.m.ambiguous("resent")
		j.logger().Warn("could not check whether an earlier attempt sent this message; sending again", "error", logErr(err))
		return false, nil
	}
	for _, pm := range page.Messages {
		if !pm.Incoming && pm.Text == m.Text && !pm.Timestamp.Before(m.CreatedAt.Add(-time.Minute)) {
			w.m.ambiguous("found")
			j.result = "sent"
			_, err := w.outcomes.Finish(ctx, m, j.token, outcome.Result{State: outcome.Sent, UpstreamID: pm.ID, Error: ""}, w.now())
			if err != nil {
				return true, j.redisDown(err)
			}
			j.logger().Info("an earlier attempt had sent this message; not sending again")
			return true, nil
		}
	}
	w.m.ambiguous("resent")
	return false, nil
}

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

// member names the message in the sets of waiting and held messages.
func (j *job) member() string {
	return release.Member(keys.Queue(string(j.m.Channel), j.m.Campaign != ""), j.m.ID)
}

// order ranks messages in enqueue order (microseconds fit a float64 exactly).
func order(m *tasks.Message) float64 { return float64(m.CreatedAt.UnixMicro()) }

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
