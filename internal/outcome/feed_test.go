package outcome

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/rowpack"
	"github.com/sendq/sendq/tasks"
)

func TestFeedLease(t *testing.T) {
	ctx := context.Background()
	s, rdb := rowsSetup(t)
	ok, err := s.LeaseFeed(ctx, "acme", "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.LeaseFeed(ctx, "acme", "b", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "held by another")
	ok, err = s.LeaseFeed(ctx, "other", "b", time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "a lease per account")
	ok, err = s.LeaseFeed(ctx, "acme", "a", 2*time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "its holder keeps it")
	require.Greater(t, rdb.PTTL(ctx, keys.Account("acme").FeedLease()).Val(), time.Minute, "and renews it")

	require.NoError(t, s.ReleaseFeed(ctx, "acme", "b"))
	ok, err = s.LeaseFeed(ctx, "acme", "b", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "only its holder gives it back")
	require.NoError(t, s.ReleaseFeed(ctx, "acme", "a"))
	ok, err = s.LeaseFeed(ctx, "acme", "b", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
}

func TestFeed(t *testing.T) {
	ctx := context.Background()

	t.Run("records the batch, moves the cursor and marks the batch pending", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 7)
		store(t, s, "acme", "spring", msgs, 4, time.Time{}, true)
		require.NoError(t, leaseFor(t, s, "acme", "tok"))
		f := feedState(t, s, "acme", "spring")
		require.Equal(t, FeedState{ID: "spring", State: CampaignRunning, Total: 7, Chunks: 2, Complete: true}, f)

		batch, next := nextRows(t, s, "acme", f, 5) // across the chunks
		require.Len(t, batch, 5)
		require.Equal(t, Cursor{Chunk: 1, Row: 1}, next)
		for i, m := range batch {
			require.Equal(t, msgs[i].ID, m.ID, "rows come back in order, with their ids")
		}
		now := time.Now().Truncate(time.Millisecond).UTC()
		require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, now))

		f = feedState(t, s, "acme", "spring")
		require.Equal(t, 5, f.Fed)
		require.Equal(t, next, f.Next)
		require.Equal(t, &Pending{At: Cursor{}, N: 5, FedAt: now}, f.Pending, "the batch, and when it was fed")
		require.Equal(t, 5, f.Backlog, "queued records of the campaign")
		space := keys.Account("acme")
		for _, m := range batch {
			h := rdb.HGetAll(ctx, space.Outcome(m.ID)).Val()
			require.Equal(t, map[string]string{"st": "queued", "ca": stringMS(now), "ch": "whatsapp", "k": "template", "cp": "spring"}, h)
			require.Greater(t, rdb.PTTL(ctx, space.Outcome(m.ID)).Val(), 30*24*time.Hour, "kept for MaxWait + Retention")
		}
		require.Equal(t, int64(0), rdb.Exists(ctx, space.Outcome(msgs[5].ID)).Val(), "no record for a row not fed")
		counts, err := s.Counts(ctx, "acme")
		require.NoError(t, err)
		require.Equal(t, int64(5), counts[Queued])
		require.Equal(t, "5", rdb.HGet(ctx, space.Campaign("spring"), "n:queued").Val())
		require.Equal(t, stringMS(now), rdb.HGet(ctx, space.Campaign("spring"), "ft").Val(), "when feeding began")

		// A second batch moves on from there, and ft stays.
		batch, next = nextRows(t, s, "acme", f, 5)
		require.Len(t, batch, 2)
		require.Equal(t, Cursor{Chunk: 2}, next)
		require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, now.Add(time.Second)))
		f = feedState(t, s, "acme", "spring")
		require.Equal(t, 7, f.Fed)
		require.Equal(t, &Pending{At: Cursor{Chunk: 1, Row: 1}, N: 2, FedAt: now.Add(time.Second)}, f.Pending)
		require.Equal(t, stringMS(now), rdb.HGet(ctx, space.Campaign("spring"), "ft").Val())
	})

	t.Run("only a record that does not exist is made and counted", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 3)
		store(t, s, "acme", "spring", msgs, 10, time.Time{}, true)
		// msgs[1] has a record already, finished: as after a batch fed
		// again by a feeder that took over.
		existing := msgs[1]
		existing.Campaign = ""
		_, _, err := s.Create(ctx, &existing, Schedule{}, rowsCreated)
		require.NoError(t, err)
		_, err = s.Finish(ctx, &existing, "", Result{State: Sent, Calls: 1}, rowsCreated)
		require.NoError(t, err)

		require.NoError(t, leaseFor(t, s, "acme", "tok"))
		f := feedState(t, s, "acme", "spring")
		batch, next := nextRows(t, s, "acme", f, 3)
		require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()))
		space := keys.Account("acme")
		require.Equal(t, "sent", rdb.HGet(ctx, space.Outcome(msgs[1].ID), "st").Val(), "the record stands as it was")
		require.Equal(t, "2", rdb.HGet(ctx, space.Campaign("spring"), "n:queued").Val())
		counts, err := s.Counts(ctx, "acme")
		require.NoError(t, err)
		require.Equal(t, map[State]int64{Queued: 2, Sent: 1}, counts)
		require.Equal(t, 3, feedState(t, s, "acme", "spring").Fed, "every row of the batch is fed")
	})

	t.Run("fenced by the lease", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 3), 10, time.Time{}, true)
		f := feedState(t, s, "acme", "spring")
		batch, next := nextRows(t, s, "acme", f, 3)
		require.ErrorIs(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()), ErrFeedLease, "no lease at all")
		require.NoError(t, leaseFor(t, s, "acme", "other"))
		require.ErrorIs(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()), ErrFeedLease, "another's lease")
		require.NoError(t, leaseFor(t, s, "other-account", "tok"))
		require.ErrorIs(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()), ErrFeedLease, "a lease of another account")
		require.Equal(t, 0, feedState(t, s, "acme", "spring").Fed)
		for _, m := range batch {
			require.Zero(t, rdb.Exists(ctx, keys.Account("acme").Outcome(m.ID)).Val(), "no record made")
		}
	})

	t.Run("refused when paused, cancelled or moved", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 6), 10, time.Time{}, true)
		require.NoError(t, leaseFor(t, s, "acme", "tok"))
		f := feedState(t, s, "acme", "spring")
		batch, next := nextRows(t, s, "acme", f, 3)

		for _, st := range []CampaignState{CampaignPausedSt, CampaignAutoPaused} {
			_, err := s.SetCampaignState(ctx, "acme", "spring", st)
			require.NoError(t, err)
			require.ErrorIs(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()), ErrFeedMoved, string(st))
		}
		_, err := s.SetCampaignState(ctx, "acme", "spring", CampaignRunning)
		require.NoError(t, err)
		require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()))
		require.ErrorIs(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()), ErrFeedMoved,
			"the same batch again: the cursor moved")

		f = feedState(t, s, "acme", "spring")
		batch, next = nextRows(t, s, "acme", f, 3)
		_, err = s.CancelCampaign(ctx, "acme", "spring")
		require.NoError(t, err)
		require.ErrorIs(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()), ErrFeedMoved, "cancelled")
		require.Equal(t, 3, feedState(t, s, "acme", "spring").Fed)
		require.Equal(t, int64(0), rdb.Exists(ctx, keys.Account("acme").Outcome(batch[0].ID)).Val())
	})
}

func TestEnqueued(t *testing.T) {
	ctx := context.Background()
	s, rdb := rowsSetup(t)
	store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 10), 4, time.Time{}, true)
	require.NoError(t, leaseFor(t, s, "acme", "tok"))
	space := keys.Account("acme")
	chunks := func() []bool {
		var out []bool
		for c := range 3 {
			out = append(out, rdb.Exists(ctx, space.CampaignRows("spring", c)).Val() == 1)
		}
		return out
	}

	f := feedState(t, s, "acme", "spring")
	batch, next := nextRows(t, s, "acme", f, 2)
	fed := time.Now().Truncate(time.Millisecond).UTC()
	require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, fed))
	mine := Pending{At: f.Next, N: 2, FedAt: fed}

	require.NoError(t, s.Enqueued(ctx, "acme", "spring", Pending{At: f.Next, N: 3}, next))
	require.Equal(t, &mine, feedState(t, s, "acme", "spring").Pending, "another batch's mark stays")
	require.NoError(t, s.Enqueued(ctx, "acme", "spring", mine, next))
	require.Nil(t, feedState(t, s, "acme", "spring").Pending)
	require.False(t, rdb.HExists(ctx, space.Campaign("spring"), "pt").Val(), "its time goes with the mark")
	require.Equal(t, []bool{true, true, true}, chunks(), "chunk 0 has rows left")

	f = feedState(t, s, "acme", "spring")
	batch, next = nextRows(t, s, "acme", f, 5) // rows 2-6: chunk 0's rest and chunk 1's first three
	require.Equal(t, Cursor{Chunk: 1, Row: 3}, next)
	require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()))
	require.NoError(t, s.Enqueued(ctx, "acme", "spring", Pending{At: f.Next, N: 5}, next))
	require.Equal(t, []bool{false, true, true}, chunks(), "chunk 0 wholly fed is dropped")

	f = feedState(t, s, "acme", "spring")
	batch, next = nextRows(t, s, "acme", f, 5)
	require.Len(t, batch, 3)
	require.Equal(t, Cursor{Chunk: 3}, next)
	require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()))
	require.NoError(t, s.Enqueued(ctx, "acme", "spring", Pending{At: f.Next, N: 3}, next))
	require.Equal(t, []bool{false, false, false}, chunks())
	f = feedState(t, s, "acme", "spring")
	require.Equal(t, 10, f.Fed)
	require.Nil(t, f.Pending)
}

func TestStopFeeding(t *testing.T) {
	ctx := context.Background()
	space := keys.Account("acme")

	// feedAll feeds every row of the campaign, in one batch, and clears
	// the batch's mark unless pending.
	feedAll := func(t *testing.T, s *Store, pending bool) FeedState {
		t.Helper()
		require.NoError(t, leaseFor(t, s, "acme", "tok"))
		f := feedState(t, s, "acme", "spring")
		batch, next := nextRows(t, s, "acme", f, f.Total)
		require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()))
		if !pending {
			require.NoError(t, s.Enqueued(ctx, "acme", "spring", Pending{At: f.Next, N: len(batch)}, next))
		}
		return feedState(t, s, "acme", "spring")
	}
	t.Run("refused while rows are left", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 6), 4, time.Time{}, true)
		f := feedState(t, s, "acme", "spring")
		stopped, err := s.StopFeeding(ctx, "acme", "spring", f.Next.Chunk, f.Chunks)
		require.NoError(t, err)
		require.False(t, stopped)
		require.Equal(t, []string{"spring"}, rdb.ZRange(ctx, space.Feeding(), 0, -1).Val())
		require.Equal(t, int64(2), rdb.Exists(ctx, space.CampaignRows("spring", 0), space.CampaignRows("spring", 1)).Val())
	})

	t.Run("refused while a start is under way", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 3), 4, time.Time{}, false)
		f := feedAll(t, s, false)
		require.Equal(t, f.Total, f.Fed)
		stopped, err := s.StopFeeding(ctx, "acme", "spring", f.Next.Chunk, f.Chunks)
		require.NoError(t, err)
		require.False(t, stopped, "fin=0: the start may store more rows")
		require.Equal(t, []string{"spring"}, rdb.ZRange(ctx, space.Feeding(), 0, -1).Val())

		require.NoError(t, s.CampaignEnqueued(ctx, "acme", "spring"))
		stopped, err = s.StopFeeding(ctx, "acme", "spring", f.Next.Chunk, f.Chunks)
		require.NoError(t, err)
		require.True(t, stopped)
		require.Empty(t, rdb.ZRange(ctx, space.Feeding(), 0, -1).Val())
	})

	t.Run("done: off the feeding set, its mark and chunks gone", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 6), 4, time.Time{}, true)
		f := feedAll(t, s, true)
		require.NotNil(t, f.Pending)
		stopped, err := s.StopFeeding(ctx, "acme", "spring", 0, f.Chunks)
		require.NoError(t, err)
		require.True(t, stopped)
		require.Empty(t, rdb.ZRange(ctx, space.Feeding(), 0, -1).Val())
		require.Zero(t, rdb.Exists(ctx, space.CampaignRows("spring", 0), space.CampaignRows("spring", 1)).Val(), "its chunks")
		require.Empty(t, rdb.HGet(ctx, space.Campaign("spring"), "pend").Val())
		require.Equal(t, int64(6), rdb.SCard(ctx, space.CampaignMembers("spring")).Val(), "the members stay: a start again stores no one twice")

		// A start storing rows afterwards lists the campaign again.
		store(t, s, "acme", "spring", rowMsgs("acme", "spring", 6, 2), 4, time.Time{}, true)
		require.Equal(t, []string{"spring"}, rdb.ZRange(ctx, space.Feeding(), 0, -1).Val())
		f = feedState(t, s, "acme", "spring")
		require.Equal(t, 8, f.Total)
		require.Equal(t, 6, f.Fed)
		batch, _ := nextRows(t, s, "acme", f, 10)
		require.Len(t, batch, 2, "the new rows, from the new chunk")
	})

	t.Run("cancelled: stops with rows left", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 10), 4, time.Time{}, true)
		_, err := s.CancelCampaign(ctx, "acme", "spring")
		require.NoError(t, err)
		f := feedState(t, s, "acme", "spring")
		stopped, err := s.StopFeeding(ctx, "acme", "spring", f.Next.Chunk, f.Chunks)
		require.NoError(t, err)
		require.True(t, stopped)
		require.Empty(t, rdb.ZRange(ctx, space.Feeding(), 0, -1).Val())
		require.Zero(t, rdb.Exists(ctx, space.CampaignRows("spring", 0), space.CampaignRows("spring", 1),
			space.CampaignRows("spring", 2)).Val(), "its chunks")
	})
}

func TestFeedingAccounts(t *testing.T) {
	ctx := context.Background()
	s, rdb := rowsSetup(t)
	store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 2), 4, time.Time{}, true)
	store(t, s, "acme", "summer", rowMsgs("acme", "summer", 0, 2), 4, time.Time{}, true)
	store(t, s, "zeta", "autumn", rowMsgs("zeta", "autumn", 0, 2), 4, time.Time{}, true)
	accts, err := s.FeedingAccounts(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"acme", "zeta"}, accts)
	states, err := s.FeedStates(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, states, 2)

	require.NoError(t, s.DropFeedingAccount(ctx, "acme"))
	accts, err = s.FeedingAccounts(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"acme", "zeta"}, accts, "an account with campaigns to feed stays")

	_, err = s.CancelCampaign(ctx, "zeta", "autumn")
	require.NoError(t, err)
	stopped, err := s.StopFeeding(ctx, "zeta", "autumn", 0, 1)
	require.NoError(t, err)
	require.True(t, stopped)
	require.NoError(t, s.DropFeedingAccount(ctx, "zeta"))
	accts, err = s.FeedingAccounts(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"acme"}, accts)
	require.Equal(t, []string{"acme"}, rdb.SMembers(ctx, keys.FeedingAccounts()).Val())
}

func TestFeedStatesOrder(t *testing.T) {
	// The account's campaigns come in the order of their first start, and a
	// campaign's backlog counts its queued and retrying records.
	ctx := context.Background()
	s, _ := rowsSetup(t)
	for i, id := range []string{"b", "a", "c"} {
		msgs := rowMsgs("acme", id, 0, 3)
		require.NoError(t, s.OpenCampaign(ctx, "acme", id, rowsCreated))
		rs, err := s.BeginRows(ctx, "acme", id, msgs[0], time.Time{})
		require.NoError(t, err)
		require.NoError(t, s.AppendRows(ctx, "acme", id, &rs, packRows(t, rs.Base, msgs), members(msgs), false,
			rowsCreated.Add(time.Duration(i)*time.Second)))
	}
	states, err := s.FeedStates(ctx, "acme")
	require.NoError(t, err)
	var ids []string
	for _, f := range states {
		ids = append(ids, f.ID)
		require.False(t, f.Complete, "no start has ended")
	}
	require.Equal(t, []string{"b", "a", "c"}, ids)

	require.NoError(t, leaseFor(t, s, "acme", "tok"))
	f := feedState(t, s, "acme", "a")
	batch, next := nextRows(t, s, "acme", f, 3)
	require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, time.Now()))
	require.NoError(t, s.Retry(ctx, batch[0], "", "upstream 503", 1, time.Now()))
	_, err = s.Finish(ctx, batch[1], "", Result{State: Sent, Calls: 1}, time.Now())
	require.NoError(t, err)
	require.Equal(t, 2, feedState(t, s, "acme", "a").Backlog, "one queued, one retrying")
}

// packRows packs msgs as one chunk of their first's base, base number base.
func packRows(t *testing.T, base int, msgs []tasks.Message) []byte {
	t.Helper()
	w := rowpack.NewWriter(msgs[0], base)
	for i := range msgs {
		require.NoError(t, w.Add(&msgs[i]))
	}
	return w.Chunk()
}

func stringMS(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
