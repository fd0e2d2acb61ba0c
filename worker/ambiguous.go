package worker

import (
	"context"
	"time"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/tasks"
)

// checkAmbiguous is the stage that guards against a second send when the
// claim found that an earlier run may have sent the message already (it
// died mid-send, or its call went unanswered): found sent, the message is
// recorded so and the run ends.
func (j *job) checkAmbiguous(ctx context.Context) error {
	if !j.claimed.Ambiguous {
		return nil
	}
	return j.alreadySent(ctx)
}

// alreadySent looks for the message among the contact's latest outgoing
// messages (possible for a contact id's text only). Found, it is recorded
// sent and errDone returned; otherwise, the send goes again (at least once).
func (j *job) alreadySent(ctx context.Context) error {
	w, m := j.w, j.m
	if m.To.ContactID == "" || m.Kind != tasks.KindText {
		// Only a contact's text can be recognised among its messages.
		w.m.ambiguous("resent")
		j.logger().Warn("an earlier attempt may have sent this message; sending again (at-least-once)")
		return nil
	}
	if err := j.waitForLookup(ctx); err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	page, err := j.a.api.Messages(pctx, m.To.ContactID, 1, 50)
	if perr := j.lookupAnswered(ctx, err); perr != nil {
		return perr
	}
	if err != nil {
		w.m.ambiguous("resent")
		j.logger().Warn("could not check whether an earlier attempt sent this message; sending again", "error", logErr(err))
		return nil
	}
	for _, pm := range page.Messages {
		if !pm.Incoming && pm.Text == m.Text && !pm.Timestamp.Before(m.CreatedAt.Add(-time.Minute)) {
			w.m.ambiguous("found")
			j.result = "sent"
			if err := j.lease.Finish(ctx, outcome.Result{State: outcome.Sent, UpstreamID: pm.ID, Error: ""}); err != nil {
				return j.redisDown(err)
			}
			j.logger().Info("an earlier attempt had sent this message; not sending again")
			return errDone
		}
	}
	w.m.ambiguous("resent")
	return nil
}
