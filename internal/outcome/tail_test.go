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
	accounts := []string{"clinic-a", "clinic-b"}

	last, err := s.LastEventIDs(ctx, accounts)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"clinic-a": "0-0", "clinic-b": "0-0"}, last, "empty streams")

	now := time.Now()
	msgs := []*tasks.Message{
		{ID: "m1", Account: "clinic-a", Channel: tasks.Telegram, Kind: tasks.KindText},
		{ID: "m2", Account: "clinic-a", Channel: tasks.Telegram, Kind: tasks.KindText},
		{ID: "m1", Account: "clinic-b", Channel: tasks.Telegram, Kind: tasks.KindText},
	}
	for _, m := range msgs {
		_, _, err := s.Create(ctx, m, Schedule{}, now)
		require.NoError(t, err)
	}
	for _, m := range msgs { // changes: expire them
		_, err := s.Finish(ctx, m, "", Result{State: Expired}, now)
		require.NoError(t, err)
	}
	evs, err := s.EventsAfter(ctx, last, 0, 10)
	require.NoError(t, err)
	require.Len(t, evs, 3)
	byAccount := map[string][]Event{}
	for _, e := range evs {
		require.Equal(t, Expired, e.State)
		byAccount[e.Account] = append(byAccount[e.Account], e)
	}
	require.Len(t, byAccount["clinic-a"], 2)
	require.Len(t, byAccount["clinic-b"], 1)

	after, err := s.EventsAfter(ctx, map[string]string{"clinic-a": byAccount["clinic-a"][0].ID}, 0, 10)
	require.NoError(t, err)
	require.Len(t, after, 1, "one account's stream alone, after its position")
	require.Equal(t, "m2", after[0].MessageID)

	last, err = s.LastEventIDs(ctx, accounts)
	require.NoError(t, err)
	require.Equal(t, byAccount["clinic-b"][0].ID, last["clinic-b"])
	none, err := s.EventsAfter(ctx, last, 0, 10)
	require.NoError(t, err)
	require.Empty(t, none)

	_, err = s.EventsAfter(ctx, map[string]string{"clinic-a": "yesterday"}, 0, 10)
	require.ErrorIs(t, err, ErrEventID)

	recs, err := s.GetMany(ctx, "clinic-a", []string{"m1", "nope", "m2"})
	require.NoError(t, err)
	require.Equal(t, "m1", recs[0].ID)
	require.Equal(t, "clinic-a", recs[0].Account)
	require.Nil(t, recs[1])
	require.Equal(t, Expired, recs[2].State)
	empty, err := s.GetMany(ctx, "clinic-a", nil)
	require.NoError(t, err)
	require.Empty(t, empty)
}
