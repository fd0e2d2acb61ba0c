package worker

import (
	"context"
	mrand "math/rand/v2"
	"time"

	"github.com/sendq/sendq/ratelimit"
)

// waitForSlot is the chain's rate-limit stage: it applies the channel's and
// the recipient's rate limits and any cool-down. A message reserves its slot
// at most Horizon ahead (a transactional one twice that: it is served at the
// end of the campaign messages' horizon, ahead of those still asking). A
// channel that is simply busy, or cooling down, is waited out in place —
// everyone on it waits anyway, and rescheduling would empty the queue between
// asynq's one-second retry ticks and leave slots unused; a wait longer than
// MaxBlock (accountBlock for an account with a budget), or a recipient's
// pace past the horizon, reschedules the message.
//
// The run starts with the reservation made with the claim, if any.
func (j *job) waitForSlot(ctx context.Context) error { return j.waitFor(ctx, j.slotRequest()) }

// waitForLookup waits, as waitForSlot does, for a slot of the account's
// budget for a look-up (GET /v1/messages): every request of the account
// takes one, not only sends.
func (j *job) waitForLookup(ctx context.Context) error {
	if j.a.budget.IsZero() {
		return nil
	}
	return j.waitFor(ctx, j.lookupRequest())
}

// waitFor waits for a slot of req, in place or by rescheduling.
func (j *job) waitFor(ctx context.Context, req ratelimit.Request) error {
	started := j.w.now()
	deadline := started.Add(j.maxBlock())
	j.campaignAt = started
	// The place is left at the slot, as the send goes (run's own deferred
	// leave covers the returns before the wait).
	defer j.leaveGate()
	for {
		r, err := j.reserve(ctx, req, deadline)
		if err != nil {
			return err
		}
		kept := false
		if r.OK {
			kept, err = j.keepSlot(ctx, r, req)
		} else {
			err = j.waitForReach(ctx, r, req, deadline)
		}
		if kept || err != nil {
			return err
		}
	}
}

// accountBlock is the longest a message of an account with a budget waits
// in place. The queues are every account's, and a handler waiting for one
// account's slot is one that another account's message cannot have: the
// producer admits an account's messages at its budget, about a second
// ahead (producer.Config.Lead), and asynq moves scheduled messages into the
// queue by the whole second, so a message waits up to about two seconds
// for its turn; a longer wait means the account is cooling down, held or
// behind, and the message is rescheduled instead. (At 1 s, messages of an
// account at its budget were rescheduled again and again: 274 Redis
// commands per sent message against 147 at 3 s, TestManyAccounts.)
const accountBlock = 3 * time.Second

// maxBlock is the longest the run waits in place for its slot: MaxBlock,
// or accountBlock for an account with a budget.
func (j *job) maxBlock() time.Duration {
	if j.a.budget.IsZero() {
		return j.w.cfg.MaxBlock
	}
	return min(j.w.cfg.MaxBlock, accountBlock)
}

// reserve returns the run's next reservation: the one made with the claim,
// if any, else a new one, asked for once through the channel's gate.
func (j *job) reserve(ctx context.Context, req ratelimit.Request, deadline time.Time) (ratelimit.Reservation, error) {
	var r ratelimit.Reservation
	if j.pre != nil {
		r, j.pre = *j.pre, nil
	} else {
		if !j.inGate {
			if err := j.enterGate(ctx, deadline); err != nil {
				return r, err
			}
			if err := j.campaignReady(ctx); err != nil {
				return r, err
			}
		}
		var err error
		if r, err = j.w.slots.Reserve(ctx, req); err != nil {
			return r, j.release(ctx, err)
		}
	}
	if r.Delay > 0 {
		j.w.m.observeWait(j.a.id, j.m.Channel, r.Reason, r.Delay)
	}
	return r, nil
}

// waitForReach follows a reservation that reserved nothing: the run comes
// back when a slot may be within reach (a cool-down, when it ends), leaving
// the gate to others — or, when that is past the deadline or a recipient's
// pace is past the horizon, gives its lease back and is rescheduled.
func (j *job) waitForReach(ctx context.Context, r ratelimit.Reservation, req ratelimit.Request, deadline time.Time) error {
	w := j.w
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
	return nil
}

// keepSlot waits for the reserved slot and reports whether the send may go
// at it (kept): a slot given up — for a cool-down that began meanwhile, or
// missed by too much — sends the run back for another.
func (j *job) keepSlot(ctx context.Context, r ratelimit.Reservation, req ratelimit.Request) (kept bool, err error) {
	w := j.w
	slot := r.At()
	// A probe's slot is the hold's own: the hold moved past it for the
	// probe's sake, and reads as a cool-down to everyone, the probe too.
	if r.Delay >= 10*time.Millisecond && !r.Probe {
		if cooling, err := j.coolingBefore(ctx, slot, req); cooling || err != nil {
			return false, err // given up; the next reservation reports the cool-down
		}
	}
	if err := sleep(ctx, slot.Sub(w.now())); err != nil {
		return false, j.release(ctx, err)
	}
	if err := j.campaignReady(ctx); err != nil {
		return false, err
	}
	// The upstream counts sends as they arrive. Slots are evenly spaced,
	// and so are arrivals as long as each send goes on time; one that
	// goes late (a process starved of CPU, a stalled answer) lands among
	// the sends of later slots, and with enough of them a one-second
	// window at the receiver holds more than the limit. A slot missed by
	// more than lateness allows is given up, and the run takes another.
	if late, ok := j.lateness(req); ok && w.now().Sub(slot) > late && !r.Probe {
		w.m.slotMissed(j.a.id, j.m.Channel)
		return false, nil
	}
	j.probe = j.probe || r.Probe
	return true, nil
}

// coolingBefore waits until just before slot and reports whether a
// cool-down has begun: a 429 may start one while the run waits for its
// slot. It looks just before the slot rather than at it, so that the look's
// round trip does not delay the send.
func (j *job) coolingBefore(ctx context.Context, slot time.Time, req ratelimit.Request) (bool, error) {
	if err := sleep(ctx, slot.Sub(j.w.now())-cooldownLook); err != nil {
		return false, j.release(ctx, err)
	}
	left, _, err := j.w.slots.CooldownLeft(ctx, req.Target())
	if err != nil {
		return false, j.release(ctx, err)
	}
	return left > 0, nil
}

// gate is the message's channel's gate (nil: none).
func (j *job) gate() *gate { return j.a.gates[j.m.Channel] }

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

// lateness is how late a send may go after its slot of req: what the
// tighter of the channel's limit and the account's budget allows (ok false:
// neither limits it).
func (j *job) lateness(req ratelimit.Request) (late time.Duration, ok bool) {
	for _, l := range []ratelimit.Limit{req.Limit, req.Budget} {
		if d := lateness(l); !l.IsZero() && (!ok || d < late) {
			late, ok = d, true
		}
	}
	return late, ok
}

// slotRequest is the message's rate-limit request: a slot of its account's
// budget, its channel's cap and its recipient's pace, and how far ahead it
// may reserve (transactional messages twice as far as campaign ones).
func (j *job) slotRequest() ratelimit.Request {
	a, m := j.a, j.m
	req := j.lookupRequest()
	req.Key = string(m.Channel)
	req.Limit = a.limits[m.Channel]
	req.Recipient = m.To.Key()
	req.RecipientLimit = a.paces[m.Channel]
	return req
}

// lookupRequest is a request for a slot of the account's budget alone.
func (j *job) lookupRequest() ratelimit.Request {
	w := j.w
	req := ratelimit.Request{Scope: j.a.id, Budget: j.a.budget, MaxWait: w.cfg.Horizon}
	if j.m.Campaign == "" {
		req.MaxWait = 2 * w.cfg.Horizon
	}
	return req
}

// jitter is a random duration in [0, d), so that waiting handlers do not
// all ask again at the same instant.
func jitter(d time.Duration) time.Duration { return time.Duration(mrand.Int64N(int64(d))) }
