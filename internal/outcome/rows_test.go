package outcome

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/internal/rowpack"
	"github.com/sendq/sendq/tasks"
)

// The stored rows of a campaign and the feeding of them are tested on the
// real Redis of SENDQ_TEST_REDIS_URL (this package's slot, 10): their
// scripts are the campaign's whole truth, and miniredis's Lua is not
// Redis's.

// rowsSetup returns a Store on the real Redis, its database flushed.
func rowsSetup(t *testing.T) (*Store, redis.UniversalClient) {
	t.Helper()
	rdb := redistest.Client(t, 10)
	s, err := New(rdb, Config{})
	require.NoError(t, err)
	return s, rdb
}

var rowsCreated = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

// rowMsg is row i of account's campaign id: a marketing template to a
// phone, with its id.
func rowMsg(account, id string, i int) tasks.Message {
	m := tasks.Message{Account: account, Campaign: id, Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
		To:        tasks.Recipient{Phone: fmt.Sprintf("6591%06d", i)},
		Template:  &tasks.Template{Name: "sale", Language: "en", Category: tasks.Marketing, Params: []string{strconv.Itoa(i)}},
		CreatedAt: rowsCreated}
	m.ID = rowpack.MessageID(id, rowpack.Member(m.Channel, m.To))
	return m
}

func rowMsgs(account, id string, from, n int) []tasks.Message {
	out := make([]tasks.Message, n)
	for i := range n {
		out[i] = rowMsg(account, id, from+i)
	}
	return out
}

func members(msgs []tasks.Message) [][rowpack.MemberSize]byte {
	out := make([][rowpack.MemberSize]byte, len(msgs))
	for i := range msgs {
		out[i] = rowpack.Member(msgs[i].Channel, msgs[i].To)
	}
	return out
}

// store stores msgs as one start of account's campaign id, as the producer
// does, in chunks of per rows; complete ends the start (fin=1). The
// start's base is msgs[0]'s.
func store(t *testing.T, s *Store, account, id string, msgs []tasks.Message, per int, notBefore time.Time, complete bool) RowsStart {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.OpenCampaign(ctx, account, id, rowsCreated))
	rs, err := s.BeginRows(ctx, account, id, msgs[0], notBefore)
	require.NoError(t, err)
	w := rowpack.NewWriter(msgs[0], rs.Base)
	for from := 0; from < len(msgs); from += per {
		part := msgs[from:min(from+per, len(msgs))]
		for i := range part {
			require.NoError(t, w.Add(&part[i]))
		}
		whole := w.Whole()
		require.NoError(t, s.AppendRows(ctx, account, id, &rs, w.Chunk(), members(part), whole, rowsCreated))
	}
	require.NoError(t, s.MarkFeeding(ctx, account))
	if complete {
		require.NoError(t, s.CampaignEnqueued(ctx, account, id))
	}
	return rs
}

// feedState is the campaign's FeedState.
func feedState(t *testing.T, s *Store, account, id string) FeedState {
	t.Helper()
	states, err := s.FeedStates(context.Background(), account)
	require.NoError(t, err)
	for _, f := range states {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("campaign %s is not among %s's to feed", id, account)
	return FeedState{}
}

// nextRows reads up to n rows of f's campaign from its cursor, as the
// feeder does, and the cursor past them.
func nextRows(t *testing.T, s *Store, account string, f FeedState, n int) ([]*tasks.Message, Cursor) {
	t.Helper()
	ctx := context.Background()
	at := f.Next
	var out []*tasks.Message
	for len(out) < n && at.Chunk < f.Chunks {
		chunk, err := s.RowChunk(ctx, account, f.ID, at.Chunk)
		require.NoError(t, err)
		require.NotNil(t, chunk, "chunk %d", at.Chunk)
		bi, rows, err := rowpack.Header(chunk)
		require.NoError(t, err)
		base, err := s.CampaignBase(ctx, account, f.ID, bi)
		require.NoError(t, err)
		msgs, err := rowpack.Decode(chunk, base, at.Row, n-len(out))
		require.NoError(t, err)
		for i := range msgs {
			m := msgs[i]
			m.Account, m.Campaign = account, f.ID
			m.ID = rowpack.MessageID(f.ID, rowpack.Member(m.Channel, m.To))
			out = append(out, &m)
		}
		at.Row += len(msgs)
		if at.Row >= rows {
			at = Cursor{Chunk: at.Chunk + 1}
		}
	}
	return out, at
}

func TestBeginRows(t *testing.T) {
	ctx := context.Background()
	s, rdb := rowsSetup(t)
	key := keys.Account("acme").Campaign("spring")

	first := rowMsgs("acme", "spring", 0, 3)
	rs := store(t, s, "acme", "spring", first, 2, time.Time{}, true)
	require.Equal(t, RowsStart{Base: 0, NextChunk: 2}, rs)

	again, err := s.BeginRows(ctx, "acme", "spring", rowMsg("acme", "spring", 99), time.Time{})
	require.NoError(t, err)
	require.Equal(t, RowsStart{Base: 0, NextChunk: 2}, again, "rows alike but for their own parts reuse the base")

	other := rowMsg("acme", "spring", 100)
	other.Template.Name = "sale_2"
	third, err := s.BeginRows(ctx, "acme", "spring", other, rowsCreated.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, RowsStart{Base: 1, NextChunk: 2}, third, "another template is another base")
	require.Equal(t, "2", rdb.HGet(ctx, key, "nbase").Val())
	require.Equal(t, strconv.FormatInt(rowsCreated.Add(time.Hour).UnixMilli(), 10), rdb.HGet(ctx, key, "nb").Val(), "the start's --at")

	for i, want := range []tasks.Message{first[0], other} {
		b, err := s.CampaignBase(ctx, "acme", "spring", i)
		require.NoError(t, err)
		require.Equal(t, rowpack.Base(want), b)
	}
	fourth, err := s.BeginRows(ctx, "acme", "spring", other, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 1, fourth.Base, "the second base is found again too")
	require.Equal(t, "2", rdb.HGet(ctx, key, "nbase").Val())
}

func TestAppendRows(t *testing.T) {
	ctx := context.Background()

	t.Run("stores the chunk and its members and lists the campaign to feed", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 5)
		store(t, s, "acme", "spring", msgs[:3], 2, time.Time{}, false)
		space := keys.Account("acme")
		h := rdb.HGetAll(ctx, space.Campaign("spring")).Val()
		require.Equal(t, "3", h["tot"])
		require.Equal(t, "2", h["nc"])
		require.Equal(t, "0", h["fin"])
		require.NotContains(t, h, "mx", "no row differs from its base")
		require.Equal(t, int64(3), rdb.SCard(ctx, space.CampaignMembers("spring")).Val())
		require.Equal(t, int64(2), rdb.Exists(ctx, space.CampaignRows("spring", 0), space.CampaignRows("spring", 1)).Val())
		require.Equal(t, []string{"spring"}, rdb.ZRange(ctx, space.Feeding(), 0, -1).Val())
		accts, err := s.FeedingAccounts(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"acme"}, accts)

		known, err := s.KnownMembers(ctx, "acme", "spring", members(msgs))
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, true, false, false}, known)
		known, err = s.KnownMembers(ctx, "other", "spring", members(msgs[:1]))
		require.NoError(t, err)
		require.Equal(t, []bool{false}, known, "another account's campaign of the same id is another")
	})

	t.Run("a chunk number taken meanwhile is ErrCampaignBusy and changes nothing", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 4)
		require.NoError(t, s.OpenCampaign(ctx, "acme", "spring", rowsCreated))
		a, err := s.BeginRows(ctx, "acme", "spring", msgs[0], time.Time{})
		require.NoError(t, err)
		b := a // a second start that began before the first stored its chunk
		w := rowpack.NewWriter(msgs[0], a.Base)
		require.NoError(t, w.Add(&msgs[0]))
		chunkA := w.Chunk()
		require.NoError(t, s.AppendRows(ctx, "acme", "spring", &a, chunkA, members(msgs[:1]), false, rowsCreated))
		require.Equal(t, 1, a.NextChunk)

		require.NoError(t, w.Add(&msgs[1]))
		err = s.AppendRows(ctx, "acme", "spring", &b, w.Chunk(), members(msgs[1:2]), false, rowsCreated)
		require.ErrorIs(t, err, ErrCampaignBusy)
		require.Equal(t, 0, b.NextChunk, "the failed start's cursor stays")
		space := keys.Account("acme")
		require.Equal(t, "1", rdb.HGet(ctx, space.Campaign("spring"), "tot").Val())
		require.Equal(t, chunkA, []byte(rdb.Get(ctx, space.CampaignRows("spring", 0)).Val()), "the chunk stored stays")
		known, err := s.KnownMembers(ctx, "acme", "spring", members(msgs[1:2]))
		require.NoError(t, err)
		require.Equal(t, []bool{false}, known)
	})

	t.Run("a chunk with a row kept whole marks the campaign", func(t *testing.T) {
		s, rdb := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 2)
		msgs[1].Template.Name = "other"
		store(t, s, "acme", "spring", msgs, 10, time.Time{}, true)
		require.Equal(t, "1", rdb.HGet(ctx, keys.Account("acme").Campaign("spring"), "mx").Val())
	})

	t.Run("many members in one chunk", func(t *testing.T) {
		// The script adds members 5,000 at a time (Lua's unpack limit).
		s, rdb := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 12_001)
		store(t, s, "acme", "spring", msgs, len(msgs), time.Time{}, true)
		require.Equal(t, int64(12_001), rdb.SCard(ctx, keys.Account("acme").CampaignMembers("spring")).Val())
	})
}

func TestUnfedRecords(t *testing.T) {
	ctx := context.Background()

	t.Run("an unfed row reads queued, then its record once fed", func(t *testing.T) {
		s, _ := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 3)
		store(t, s, "acme", "spring", msgs, 10, time.Time{}, true)
		for _, get := range []func() (*Record, error){
			func() (*Record, error) { return s.Get(ctx, "acme", msgs[2].ID) },
			func() (*Record, error) { return s.Find(ctx, []string{"other", "acme"}, msgs[2].ID) },
		} {
			r, err := get()
			require.NoError(t, err)
			require.Equal(t, &Record{ID: msgs[2].ID, Account: "acme", Campaign: "spring", State: Queued,
				Channel: "whatsapp", Kind: "template", CreatedAt: rowsCreated}, r)
		}

		require.NoError(t, leaseFor(t, s, "acme", "tok"))
		f := feedState(t, s, "acme", "spring")
		batch, next := nextRows(t, s, "acme", f, 3)
		fedAt := rowsCreated.Add(time.Minute)
		require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, fedAt))
		r, err := s.Get(ctx, "acme", msgs[2].ID)
		require.NoError(t, err)
		require.Equal(t, Queued, r.State)
		require.Equal(t, fedAt, r.CreatedAt, "the record the feed made")
	})

	t.Run("before the start's --at it reads scheduled", func(t *testing.T) {
		s, _ := rowsSetup(t)
		at := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
		msgs := rowMsgs("acme", "spring", 0, 2)
		store(t, s, "acme", "spring", msgs, 10, at, true)
		r, err := s.Find(ctx, []string{"acme"}, msgs[1].ID)
		require.NoError(t, err)
		require.Equal(t, Scheduled, r.State)
		require.Equal(t, "at", r.Reason)
		require.Equal(t, at, r.NotBefore)
	})

	t.Run("a --at passed reads queued", func(t *testing.T) {
		s, _ := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 2)
		store(t, s, "acme", "spring", msgs, 10, time.Now().Add(-time.Minute), true)
		r, err := s.Get(ctx, "acme", msgs[1].ID)
		require.NoError(t, err)
		require.Equal(t, Queued, r.State)
		require.Zero(t, r.NotBefore)
	})

	t.Run("a cancelled campaign's unfed row reads cancelled", func(t *testing.T) {
		s, _ := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 2)
		store(t, s, "acme", "spring", msgs, 10, time.Now().Add(time.Hour), true)
		_, err := s.CancelCampaign(ctx, "acme", "spring")
		require.NoError(t, err)
		r, err := s.Get(ctx, "acme", msgs[0].ID)
		require.NoError(t, err)
		require.Equal(t, Cancelled, r.State)
		require.Zero(t, r.NotBefore)
		require.Empty(t, r.Reason)
	})

	t.Run("the default account", func(t *testing.T) {
		s, _ := rowsSetup(t)
		msgs := rowMsgs("default", "spring", 0, 1)
		store(t, s, "default", "spring", msgs, 10, time.Time{}, true)
		r, err := s.Get(ctx, "", msgs[0].ID)
		require.NoError(t, err)
		require.Equal(t, "default", r.Account)
		require.Equal(t, Queued, r.State)
	})

	t.Run("a campaign of mixed rows does not guess the channel", func(t *testing.T) {
		s, _ := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 2)
		msgs[1].Channel, msgs[1].Kind, msgs[1].Template, msgs[1].Text = tasks.Telegram, tasks.KindText, nil, "hi"
		msgs[1].ID = rowpack.MessageID("spring", rowpack.Member(msgs[1].Channel, msgs[1].To))
		store(t, s, "acme", "spring", msgs, 10, time.Time{}, true)
		r, err := s.Get(ctx, "acme", msgs[1].ID)
		require.NoError(t, err)
		require.Equal(t, Queued, r.State)
		require.Empty(t, r.Channel)
		require.Empty(t, r.Kind)
	})

	t.Run("starts of other channels do not lend theirs", func(t *testing.T) {
		// Each start alike within itself, but the second on another channel:
		// an unfed row of the second must not read as the first's channel.
		s, _ := rowsSetup(t)
		store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 2), 10, time.Time{}, true)
		tg := rowMsgs("acme", "spring", 10, 2)
		for i := range tg {
			tg[i].Channel, tg[i].Kind, tg[i].Template, tg[i].Text = tasks.Telegram, tasks.KindText, nil, "hi"
			tg[i].ID = rowpack.MessageID("spring", rowpack.Member(tg[i].Channel, tg[i].To))
		}
		store(t, s, "acme", "spring", tg, 10, time.Time{}, true)
		r, err := s.Get(ctx, "acme", tg[0].ID)
		require.NoError(t, err)
		require.Equal(t, Queued, r.State)
		require.Empty(t, r.Channel, "a telegram row, not the first start's whatsapp")
		require.Empty(t, r.Kind)
		r, err = s.Get(ctx, "acme", rowMsg("acme", "spring", 0).ID)
		require.NoError(t, err)
		require.Empty(t, r.Channel, "which start a row is of is not known")
	})

	t.Run("not found", func(t *testing.T) {
		s, _ := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 2)
		store(t, s, "acme", "spring", msgs, 10, time.Time{}, true)
		stranger := rowMsg("acme", "spring", 50) // the campaign's id form, but never stored
		for _, tc := range []struct {
			name string
			get  func() (*Record, error)
		}{
			{"a member not stored", func() (*Record, error) { return s.Get(ctx, "acme", stranger.ID) }},
			{"a member not stored, by Find", func() (*Record, error) { return s.Find(ctx, []string{"acme"}, stranger.ID) }},
			{"another account's campaign", func() (*Record, error) { return s.Get(ctx, "other", msgs[0].ID) }},
			{"another account's campaign, by Find", func() (*Record, error) { return s.Find(ctx, []string{"other", "default"}, msgs[0].ID) }},
			{"an unknown campaign", func() (*Record, error) {
				return s.Get(ctx, "acme", rowpack.MessageID("autumn", rowpack.Member(msgs[0].Channel, msgs[0].To)))
			}},
			{"an id of no campaign form", func() (*Record, error) { return s.Get(ctx, "acme", "spring") }},
		} {
			_, err := tc.get()
			require.ErrorIs(t, err, ErrNotFound, tc.name)
		}
	})
}

func TestGetCampaignUnfed(t *testing.T) {
	ctx := context.Background()

	// sum adds a report's counts up.
	sum := func(c *Campaign) int {
		n := 0
		for _, v := range c.Counts {
			n += v
		}
		return n
	}

	t.Run("unfed rows count as queued beside the fed", func(t *testing.T) {
		s, _ := rowsSetup(t)
		msgs := rowMsgs("acme", "spring", 0, 10)
		store(t, s, "acme", "spring", msgs, 4, time.Time{}, true)
		require.NoError(t, leaseFor(t, s, "acme", "tok"))
		f := feedState(t, s, "acme", "spring")
		batch, next := nextRows(t, s, "acme", f, 4)
		now := time.Now()
		require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, now))
		_, err := s.Finish(ctx, batch[0], "", Result{State: Sent, Calls: 1}, now)
		require.NoError(t, err)

		c, err := s.GetCampaign(ctx, "acme", "spring", now)
		require.NoError(t, err)
		require.Equal(t, 10, c.Total)
		require.Equal(t, 4, c.Fed)
		require.Equal(t, map[State]int{Queued: 9, Sent: 1}, c.Counts)
		require.Equal(t, c.Total, sum(c))
		require.Equal(t, 9, c.Left)
		require.Equal(t, CampaignRunning, c.State, "not done while rows are unfed")

		_, err = s.CancelCampaign(ctx, "acme", "spring")
		require.NoError(t, err)
		c, err = s.GetCampaign(ctx, "acme", "spring", now)
		require.NoError(t, err)
		require.Equal(t, map[State]int{Cancelled: 9, Sent: 1}, c.Counts)
		require.Equal(t, c.Total, sum(c))
		require.Zero(t, c.Left)
		require.Equal(t, CampaignCancelled, c.State)
	})

	t.Run("before --at they count as scheduled, after it as queued", func(t *testing.T) {
		s, _ := rowsSetup(t)
		at := time.Now().Add(time.Hour)
		store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 6), 4, at, true)
		c, err := s.GetCampaign(ctx, "acme", "spring", at.Add(-time.Minute))
		require.NoError(t, err)
		require.Equal(t, map[State]int{Scheduled: 6}, c.Counts)
		require.Equal(t, 6, c.Left)
		c, err = s.GetCampaign(ctx, "acme", "spring", at.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, map[State]int{Queued: 6}, c.Counts)
		require.Equal(t, c.Total, sum(c))
	})

	t.Run("done once every row is fed and sent", func(t *testing.T) {
		s, _ := rowsSetup(t)
		store(t, s, "acme", "spring", rowMsgs("acme", "spring", 0, 3), 2, time.Time{}, true)
		require.NoError(t, leaseFor(t, s, "acme", "tok"))
		f := feedState(t, s, "acme", "spring")
		batch, next := nextRows(t, s, "acme", f, 3)
		require.Len(t, batch, 3)
		now := time.Now()
		require.NoError(t, s.Feed(ctx, "acme", "tok", f, next, batch, now))
		for i, m := range batch {
			_, err := s.Finish(ctx, m, "", Result{State: Sent, Calls: 1}, now)
			require.NoError(t, err)
			c, err := s.GetCampaign(ctx, "acme", "spring", now)
			require.NoError(t, err)
			require.Equal(t, c.Total, sum(c))
			if i < len(batch)-1 {
				require.Equal(t, CampaignRunning, c.State)
			} else {
				require.Equal(t, CampaignDone, c.State)
				require.Equal(t, map[State]int{Sent: 3}, c.Counts)
			}
		}
	})
}

// leaseFor takes account's feed lease for token.
func leaseFor(t *testing.T, s *Store, account, token string) error {
	t.Helper()
	ok, err := s.LeaseFeed(context.Background(), account, token, time.Minute)
	if err == nil && !ok {
		err = fmt.Errorf("lease of %s is another's", account)
	}
	return err
}
