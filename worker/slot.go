package worker

import (
	"context"
	mrand "math/rand/v2"
	"time"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/ratelimit"
)

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
