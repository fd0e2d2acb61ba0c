package worker

import (
	"context"
	"errors"
	"time"

	"github.com/sendq/sendq/internal/session"
)

// checkWindow is the chain's window stage, on what the claim's lookup
// found (nothing to do when no window applies): with the window known
// closed the message is parked without an API call; unknown for a contact
// id, the contact's latest messages are asked; otherwise the send is tried.
func (j *job) checkWindow(ctx context.Context, now time.Time) error {
	if j.looked == nil {
		return nil
	}
	st, err := j.looked()
	if err != nil {
		return j.release(ctx, err)
	}
	if st == session.Unknown && j.m.To.ContactID != "" {
		if err := j.waitForLookup(ctx); err != nil {
			return err
		}
		if st, err = j.probeWindow(ctx, now); err != nil {
			return err
		}
	}
	if st != session.Closed {
		return nil
	}
	if err := j.park(ctx, 0, "waiting for the contact's 24-hour window"); !errors.Is(err, errWindowOpen) {
		return err
	}
	return nil // the contact wrote meanwhile: go on and send
}

// probeWindow asks the contact's latest messages for the last inbound one and
// records what it finds. On any error the window stays unknown (the send is
// tried and its answer decides), except a refused key, which holds the
// account and ends the run (err).
func (j *job) probeWindow(ctx context.Context, now time.Time) (session.Status, error) {
	w, m := j.w, j.m
	pctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	page, err := j.a.api.Messages(pctx, m.To.ContactID, 1, 25)
	if perr := j.lookupAnswered(ctx, err); perr != nil {
		return session.Unknown, perr
	}
	if err != nil {
		j.logger().Debug("window probe failed", "error", logErr(err))
		return session.Unknown, nil
	}
	if in, ok := page.LatestIncoming(m.Channel); ok {
		st, err := w.windows.RecordProbed(ctx, m, in.Timestamp, now)
		if err != nil {
			return session.Unknown, nil
		}
		return st, nil
	}
	if len(page.Messages) == 0 {
		return session.Unknown, nil // a contact with no history: let the send decide
	}
	_ = w.windows.RecordClosed(ctx, m, now)
	return session.Closed, nil
}

// errWindowOpen is park's answer when the window opened meanwhile: nothing
// is parked and the run keeps its lease.
var errWindowOpen = errors.New("the window opened meanwhile")

// park sets the message aside until its contact writes (or a re-check, or
// its expiry), unless the window opened meanwhile (errWindowOpen).
func (j *job) park(ctx context.Context, calls int, reason string) error {
	now := j.w.now()
	opened, err := j.lease.ParkForWindow(ctx, reason, calls, j.w.windows.Window(j.m.Channel))
	if err != nil {
		return j.redisDown(err)
	}
	if opened {
		return errWindowOpen // the contact wrote meanwhile
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
	backoff := min(time.Minute<<min(j.claimed.Attempts, 10), j.w.cfg.Recheck)
	return max(min(backoff, j.expiresAt().Sub(now)), 0)
}
