package outcome

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
)

func TestRecorded(t *testing.T) {
	ctx := context.Background()
	s, b := setup(t)
	_, _, err := s.Create(ctx, msg("m1", ""), Schedule{}, b.now)
	require.NoError(t, err)
	_, err = s.CreateCampaign(ctx, "camp", []*tasks.Message{msg("c1", "camp")}, Queued, b.now)
	require.NoError(t, err)

	found, err := s.Recorded(ctx, "", []string{"m0", "m1", "c1", "c2"})
	require.NoError(t, err)
	require.Equal(t, []bool{false, true, true, false}, found)

	found, err = s.Recorded(ctx, "", nil)
	require.NoError(t, err)
	require.Empty(t, found)

	b.mr.Close()
	_, err = s.Recorded(ctx, "", []string{"m1"})
	require.ErrorContains(t, err, "outcome: recorded")
}
