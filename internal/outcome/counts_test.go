package outcome

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCounts(t *testing.T) {
	ctx := context.Background()
	s, b := setup(t)
	counts, err := s.Counts(ctx, "")
	require.NoError(t, err)
	require.Empty(t, counts, "nothing on record")

	for _, m := range []string{"m1", "m2", "m3"} {
		_, _, err := s.Create(ctx, msg(m, ""), Schedule{}, b.now)
		require.NoError(t, err)
	}
	_, err = s.Finish(ctx, msg("m2", ""), "", Result{State: Sent}, b.now)
	require.NoError(t, err)
	_, err = s.Finish(ctx, msg("m4", "camp"), "", Result{State: Expired, Error: "late"}, b.now)
	require.NoError(t, err)

	counts, err = s.Counts(ctx, "")
	require.NoError(t, err)
	require.Equal(t, map[State]int64{Queued: 2, Sent: 1, Expired: 1}, counts)
}
