package outcome

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHeld(t *testing.T) {
	ctx := context.Background()
	s, b := setup(t)
	require.NoError(t, s.OpenCampaign(ctx, "camp", b.now))
	_, err := s.SetCampaignState(ctx, "camp", CampaignPausedSt)
	require.NoError(t, err)
	// Claimed out of order: the set keeps the enqueue order.
	for _, c := range []struct {
		id    string
		order float64
	}{{"m2", 2}, {"m1", 1}, {"m3", 3}} {
		claim, err := s.Claim(ctx, msg(c.id, "camp"), "tok", time.Minute, c.order, "q "+c.id, b.now)
		require.NoError(t, err)
		require.Equal(t, CampaignPaused, claim.Status)
	}

	held := s.Held("camp")
	members, err := held.Members(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"q m1", "q m2", "q m3"}, members)
	require.NoError(t, held.Remove(ctx, "q m2"))
	members, err = held.Members(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"q m1", "q m3"}, members)

	members, err = s.Held("other").Members(ctx)
	require.NoError(t, err)
	require.Empty(t, members)
}
