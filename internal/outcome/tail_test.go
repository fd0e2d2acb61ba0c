package outcome

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
)

func TestEventsAfter(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s, err := New(rdb, Config{})
	require.NoError(t, err)
	ctx := context.Background()

	last, err := s.LastEventID(ctx)
	require.NoError(t, err)
	require.Equal(t, "0-0", last, "an empty stream")

	now := time.Now()
	for _, id := range []string{"m1", "m2"} {
		m := &tasks.Message{ID: id, Channel: tasks.Telegram, Kind: tasks.KindText}
		_, _, err := s.Create(ctx, m, Queued, now)
		require.NoError(t, err)
	}
	// Changes: expire both.
	for _, id := range []string{"m1", "m2"} {
		m := &tasks.Message{ID: id, Channel: tasks.Telegram, Kind: tasks.KindText}
		_, err := s.Finish(ctx, m, "", Result{State: Expired}, now)
		require.NoError(t, err)
	}
	evs, err := s.EventsAfter(ctx, last, 0, 10)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Equal(t, "m1", evs[0].MessageID)
	require.Equal(t, Expired, evs[0].State)

	after, err := s.EventsAfter(ctx, evs[0].ID, 0, 10)
	require.NoError(t, err)
	require.Len(t, after, 1)
	require.Equal(t, "m2", after[0].MessageID)

	last, err = s.LastEventID(ctx)
	require.NoError(t, err)
	require.Equal(t, evs[1].ID, last)
	none, err := s.EventsAfter(ctx, last, 0, 10)
	require.NoError(t, err)
	require.Empty(t, none)

	_, err = s.EventsAfter(ctx, "yesterday", 0, 10)
	require.ErrorIs(t, err, ErrEventID)

	recs, err := s.GetMany(ctx, []string{"m1", "nope", "m2"})
	require.NoError(t, err)
	require.Equal(t, "m1", recs[0].ID)
	require.Nil(t, recs[1])
	require.Equal(t, Expired, recs[2].State)
	empty, err := s.GetMany(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, empty)
}
