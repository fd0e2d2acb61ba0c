package outcome

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
)

func TestHeld(t *testing.T) {
	ctx := context.Background()
	s, b := setup(t)
	require.NoError(t, s.OpenCampaign(ctx, "", "camp", b.now))
	_, err := s.SetCampaignState(ctx, "", "camp", CampaignPausedSt)
	require.NoError(t, err)
	// Claimed out of order: the set keeps the enqueue order.
	for _, tc := range []struct {
		id    string
		order float64
	}{{"m2", 2}, {"m1", 1}, {"m3", 3}} {
		m := msg(tc.id, "camp")
		m.CreatedAt = time.UnixMicro(int64(tc.order))
		c, err := claim(ctx, s, m, "tok", time.Minute, b.now)
		require.NoError(t, err)
		require.Equal(t, CampaignPaused, c.Status)
	}

	held := s.Held("", "camp")
	members, err := held.Members(ctx)
	require.NoError(t, err)
	q := keys.Queue("whatsapp", true)
	require.Equal(t, []string{keys.Member(q, "m1"), keys.Member(q, "m2"), keys.Member(q, "m3")}, members)
	require.NoError(t, held.Remove(ctx, keys.Member(q, "m2")))
	members, err = held.Members(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{keys.Member(q, "m1"), keys.Member(q, "m3")}, members)

	members, err = s.Held("", "other").Members(ctx)
	require.NoError(t, err)
	require.Empty(t, members)
}
