package worker

import (
	"context"
	"time"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/tasks"
)

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
