package outcome

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

func TestHoldAndSuppress(t *testing.T) {
	ctx := context.Background()
	space := keys.Account("")

	t.Run("HoldSchedulesWithReasonAndGivesTheLeaseBack", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "cp1")
		_, _, err := s.Create(ctx, m, Schedule{}, b.now)
		require.NoError(t, err)
		c, err := claim(ctx, s, m, "t1", time.Minute, b.now)
		require.NoError(t, err)
		require.Equal(t, Claimed, c.Status)

		nb := b.now.Add(9 * time.Hour)
		old, err := s.Hold(ctx, m, "t1", Schedule{NotBefore: nb, Reason: "quiet_hours"}, b.now)
		require.NoError(t, err)
		require.Equal(t, Queued, old)

		r, err := s.Get(ctx, "", "m1")
		require.NoError(t, err)
		require.Equal(t, Scheduled, r.State)
		require.Equal(t, "quiet_hours", r.Reason)
		require.Equal(t, nb, r.NotBefore)
		js, err := json.Marshal(r)
		require.NoError(t, err)
		require.Contains(t, string(js), `"reason":"quiet_hours"`)
		require.Contains(t, string(js), `"not_before":"2026-11-23T21:00:00Z"`)
		require.Equal(t, "1", counts(t, b, space.Counts())["scheduled"])
		require.Equal(t, "0", counts(t, b, space.Counts())["queued"])
		require.Equal(t, "1", counts(t, b, space.Campaign("cp1"))["n:scheduled"])

		// The lease is back: another run claims at once, and sending it
		// clears not_before and reason.
		c, err = claim(ctx, s, m, "t2", time.Minute, b.now.Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, Claimed, c.Status)
		_, err = s.Finish(ctx, m, "t2", Result{State: Sent, Calls: 1, UpstreamID: "u1"}, nb)
		require.NoError(t, err)
		r, err = s.Get(ctx, "", "m1")
		require.NoError(t, err)
		require.Equal(t, Sent, r.State)
		require.Empty(t, r.Reason)
		require.True(t, r.NotBefore.IsZero())
		require.Equal(t, "0", counts(t, b, space.Campaign("cp1"))["n:scheduled"])
		require.Equal(t, "1", counts(t, b, space.Campaign("cp1"))["n:sent"])
	})

	t.Run("HoldAgainMovesNotBefore", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "")
		_, _, err := s.Create(ctx, m, Schedule{}, b.now)
		require.NoError(t, err)
		for i, reason := range []string{"quiet_hours", "messaging_limit"} {
			_, err := claim(ctx, s, m, "t", time.Minute, b.now)
			require.NoError(t, err)
			_, err = s.Hold(ctx, m, "t", Schedule{NotBefore: b.now.Add(time.Duration(i+1) * time.Hour), Reason: reason}, b.now)
			require.NoError(t, err)
		}
		r, err := s.Get(ctx, "", "m1")
		require.NoError(t, err)
		require.Equal(t, "messaging_limit", r.Reason)
		require.Equal(t, b.now.Add(2*time.Hour), r.NotBefore)
		require.Equal(t, "1", counts(t, b, space.Counts())["scheduled"])
	})

	t.Run("HoldOfAFinishedMessageChangesNothing", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "")
		_, _, err := s.Create(ctx, m, Schedule{}, b.now)
		require.NoError(t, err)
		_, err = s.Finish(ctx, m, "", Result{State: Expired}, b.now)
		require.NoError(t, err)
		old, err := s.Hold(ctx, m, "t", Schedule{NotBefore: b.now.Add(time.Hour), Reason: "quiet_hours"}, b.now)
		require.NoError(t, err)
		require.Equal(t, Expired, old)
		r, err := s.Get(ctx, "", "m1")
		require.NoError(t, err)
		require.Equal(t, Expired, r.State)
		require.Empty(t, r.Reason)
	})

	t.Run("HoldNeedsNotBeforeAndReason", func(t *testing.T) {
		s, b := setup(t)
		_, err := s.Hold(ctx, msg("m1", ""), "t", Schedule{Reason: "quiet_hours"}, b.now)
		require.Error(t, err)
		_, err = s.Hold(ctx, msg("m1", ""), "t", Schedule{NotBefore: b.now}, b.now)
		require.Error(t, err)
	})

	t.Run("SuppressedIsFinalAndCounted", func(t *testing.T) {
		s, b := setup(t)
		require.NoError(t, s.OpenCampaign(ctx, "", "cp1", b.now))
		m1, m2 := msg("m1", "cp1"), msg("m2", "cp1")
		for _, m := range []*tasks.Message{m1, m2} {
			created, _, err := s.Create(ctx, m, Schedule{}, b.now)
			require.NoError(t, err)
			require.True(t, created)
		}
		require.NoError(t, s.CampaignEnqueued(ctx, "", "cp1"))
		_, err := claim(ctx, s, m1, "t1", time.Minute, b.now)
		require.NoError(t, err)
		_, err = s.Finish(ctx, m1, "t1", Result{State: Suppressed, Reason: "opted_out"}, b.now)
		require.NoError(t, err)
		_, err = s.Finish(ctx, m2, "", Result{State: Sent, Calls: 1}, b.now)
		require.NoError(t, err)

		r, err := s.Get(ctx, "", "m1")
		require.NoError(t, err)
		require.Equal(t, Suppressed, r.State)
		require.True(t, r.State.Terminal())
		require.Equal(t, "opted_out", r.Reason)
		require.Zero(t, r.Attempts)

		// Final: a later claim finds it done.
		c, err := claim(ctx, s, m1, "t2", time.Minute, b.now)
		require.NoError(t, err)
		require.Equal(t, AlreadyDone, c.Status)

		cp, err := s.GetCampaign(ctx, "", "cp1", b.now)
		require.NoError(t, err)
		require.Equal(t, map[State]int{Suppressed: 1, Sent: 1}, cp.Counts)
		require.Equal(t, 2, cp.Total)
		require.Equal(t, CampaignDone, cp.State, "suppressed counts as finished")
		require.Equal(t, "1", counts(t, b, space.Counts())["suppressed"])
	})
}
