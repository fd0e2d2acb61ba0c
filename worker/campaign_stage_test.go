package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/outcome"
)

// TestCampaignAtTheClaim: a campaign message goes only while its campaign
// runs. Paused (by hand or automatically) it is set aside and looked at again
// after Recheck, without a call; cancelled, it is recorded cancelled and done.
func TestCampaignAtTheClaim(t *testing.T) {
	ctx := context.Background()
	const recheck = 5 * time.Minute
	for _, tc := range []struct {
		name  string
		moves []outcome.CampaignState // SetCampaignState calls after the campaign opens
		want  verdict
		state outcome.State
		calls int
	}{
		{"Running", nil, done, outcome.Sent, 1},
		{"Paused", []outcome.CampaignState{outcome.CampaignPausedSt}, deferred(recheck), outcome.Queued, 0},
		{"AutoPaused", []outcome.CampaignState{outcome.CampaignAutoPaused}, deferred(recheck), outcome.Queued, 0},
		{"Resumed", []outcome.CampaignState{outcome.CampaignPausedSt, outcome.CampaignRunning}, done, outcome.Sent, 1},
		{"Cancelled", []outcome.CampaignState{outcome.CampaignCancelled}, done, outcome.Cancelled, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t, func(cfg *Config) { cfg.Recheck = recheck })
			require.NoError(t, c.outcomes.OpenCampaign(ctx, "", "spring", c.clock.Now()))
			for _, st := range tc.moves {
				var err error
				if st == outcome.CampaignCancelled {
					_, err = c.outcomes.CancelCampaign(ctx, "", "spring")
				} else {
					_, err = c.outcomes.SetCampaignState(ctx, "", "spring", st)
				}
				require.NoError(t, err)
			}
			m := templateMsg("m1", "c1")
			m.Campaign = "spring"
			requireVerdict(t, tc.want, c.run(t, m))
			r := c.record(t, "m1")
			require.Equal(t, tc.state, r.State)
			require.Equal(t, tc.calls, c.api.calls())
			require.Equal(t, tc.calls, r.Attempts)
		})
	}
}
