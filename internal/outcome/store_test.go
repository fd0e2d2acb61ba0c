package outcome

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

type bundle struct {
	mr  *miniredis.Miniredis
	rdb *redis.Client
	now time.Time
}

func setup(t *testing.T) (*Store, *bundle) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s, err := New(rdb, Config{})
	require.NoError(t, err)
	return s, &bundle{mr: mr, rdb: rdb, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func msg(id, campaign string) *tasks.Message {
	return &tasks.Message{ID: id, Channel: tasks.WhatsApp, Kind: tasks.KindTemplate, Campaign: campaign,
		To: tasks.Recipient{ContactID: "c1"}, Template: &tasks.Template{Name: "hello", Language: "en"}}
}

// claim is ClaimIn alone in its pipeline.
func claim(ctx context.Context, s *Store, m *tasks.Message, token string, lease time.Duration, now time.Time) (Claim, error) {
	p := s.rdb.Pipeline()
	claimed := s.ClaimIn(ctx, p, m, token, lease, now)
	_, _ = p.Exec(ctx) // each command carries its own error
	return claimed()
}

func counts(t *testing.T, b *bundle, key string) map[string]string {
	t.Helper()
	h, err := b.rdb.HGetAll(context.Background(), key).Result()
	require.NoError(t, err)
	return h
}

func TestStore(t *testing.T) {
	ctx := context.Background()

	t.Run("CreateOnceThenReportsTheRecord", func(t *testing.T) {
		s, b := setup(t)
		created, st, err := s.Create(ctx, msg("m1", ""), Schedule{}, b.now)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, Queued, st)
		created, st, err = s.Create(ctx, msg("m1", ""), Schedule{NotBefore: b.now.Add(time.Hour), Reason: "at"}, b.now)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, Queued, st)
		r, err := s.Get(ctx, "", "m1")
		require.NoError(t, err)
		require.Equal(t, "whatsapp", r.Channel)
		require.Equal(t, "template", r.Kind)
		require.Equal(t, b.now, r.CreatedAt)
		require.Equal(t, "1", counts(t, b, keys.Account("").Counts())["queued"])
	})

	t.Run("GetUnknownIsNotFound", func(t *testing.T) {
		s, _ := setup(t)
		_, err := s.Get(ctx, "", "nope")
		require.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("ClaimInFinishInAfterAScriptFlush", func(t *testing.T) {
		// A Redis that restarted has no scripts loaded: the pipelined
		// EVALSHA answers NOSCRIPT, and the call goes again with the script.
		s, b := setup(t)
		m := msg("m1", "")
		_, _, err := s.Create(ctx, m, Schedule{}, b.now)
		require.NoError(t, err)
		require.NoError(t, b.rdb.ScriptFlush(ctx).Err())
		p := b.rdb.Pipeline()
		claimed := s.ClaimIn(ctx, p, m, "tok", time.Minute, b.now)
		_, _ = p.Exec(ctx)
		c, err := claimed()
		require.NoError(t, err)
		require.Equal(t, Claimed, c.Status)

		require.NoError(t, b.rdb.ScriptFlush(ctx).Err())
		p = b.rdb.Pipeline()
		finished := s.FinishIn(ctx, p, m, "tok", Result{State: Sent, Calls: 1, UpstreamID: "up-1"}, b.now)
		_, _ = p.Exec(ctx)
		old, err := finished()
		require.NoError(t, err)
		require.Equal(t, Queued, old)
		r, err := s.Get(ctx, "", "m1")
		require.NoError(t, err)
		require.Equal(t, Sent, r.State)
		require.Equal(t, "up-1", r.UpstreamID)
	})

	t.Run("ClaimFinishSent", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "camp")
		_, _, err := s.Create(ctx, m, Schedule{}, b.now)
		require.NoError(t, err)
		c, err := claim(ctx, s, m, "tok", time.Minute, b.now)
		require.NoError(t, err)
		require.Equal(t, Claim{Status: Claimed}, c)

		old, err := s.Finish(ctx, m, "tok", Result{State: Sent, Calls: 1, UpstreamID: "up-1"}, b.now.Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, Queued, old)
		r, err := s.Get(ctx, "", "m1")
		require.NoError(t, err)
		require.Equal(t, Sent, r.State)
		require.Equal(t, 1, r.Attempts)
		require.Equal(t, "up-1", r.UpstreamID)
		require.Equal(t, b.now.Add(time.Second), r.SentAt)
		id, err := b.rdb.Get(ctx, keys.Account("").Upstream("up-1")).Result()
		require.NoError(t, err)
		require.Equal(t, "m1", id)
		c2 := counts(t, b, keys.Account("").Campaign("camp"))
		require.Equal(t, "1", c2["tot"])
		require.Equal(t, "0", c2["n:queued"])
		require.Equal(t, "1", c2["n:sent"])
		require.Zero(t, b.rdb.ZCard(ctx, keys.Account("").CampaignInflight("camp")).Val())

		c, err = claim(ctx, s, m, "tok2", time.Minute, b.now)
		require.NoError(t, err)
		require.Equal(t, AlreadyDone, c.Status, "a finished message is never sent again")
	})

	t.Run("BusyWhileAnotherRunHoldsTheLeaseAmbiguousAfter", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "")
		c, err := claim(ctx, s, m, "a", 10*time.Second, b.now)
		require.NoError(t, err)
		require.Equal(t, Claimed, c.Status, "a missing record is created by the claim")
		c, err = claim(ctx, s, m, "b", 10*time.Second, b.now.Add(4*time.Second))
		require.NoError(t, err)
		require.Equal(t, Busy, c.Status)
		require.Equal(t, 6*time.Second, c.Wait)
		c, err = claim(ctx, s, m, "b", 10*time.Second, b.now.Add(11*time.Second))
		require.NoError(t, err)
		require.Equal(t, Claimed, c.Status)
		require.True(t, c.Ambiguous, "the first run never reported back")
	})

	t.Run("TheAmbiguousMarkGoesToTheRunThatTakesTheLease", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "")
		_, err := claim(ctx, s, m, "a", 10*time.Second, b.now)
		require.NoError(t, err)
		require.NoError(t, s.MarkAmbiguous(ctx, m)) // a's call went unanswered
		c, err := claim(ctx, s, m, "b", 10*time.Second, b.now.Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, Busy, c.Status, "a still holds the lease")
		require.NoError(t, s.Retry(ctx, m, "a", "timeout", 1, b.now.Add(2*time.Second)))
		c, err = claim(ctx, s, m, "c", 10*time.Second, b.now.Add(3*time.Second))
		require.NoError(t, err)
		require.Equal(t, Claimed, c.Status)
		require.True(t, c.Ambiguous, "the busy claim left the mark for the run that sends")
		c, err = claim(ctx, s, m, "c", 10*time.Second, b.now.Add(4*time.Second))
		require.NoError(t, err)
		require.False(t, c.Ambiguous, "the mark is taken once")
	})

	t.Run("ParkChecksTheWindowAtomically", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "")
		m.Kind = tasks.KindText
		_, err := claim(ctx, s, m, "a", time.Minute, b.now)
		require.NoError(t, err)
		hash, waiting := keys.Account("").Session("whatsapp", "c:c1"), keys.Account("").Waiting("whatsapp", "c:c1")

		opened, err := s.ParkForWindow(ctx, m, "a", "closed", 1, 24*time.Hour, b.now)
		require.NoError(t, err)
		require.False(t, opened)
		r, _ := s.Get(ctx, "", "m1")
		require.Equal(t, WaitingSession, r.State)
		require.Equal(t, 1, r.Attempts)
		require.Equal(t, "closed", r.Error)
		require.Equal(t, []string{"sendq:whatsapp m1"}, b.rdb.ZRange(ctx, waiting, 0, -1).Val())
		lease, err := b.rdb.HGet(ctx, keys.Account("").Outcome("m1"), "lt").Result()
		require.ErrorIs(t, err, redis.Nil, "lease %q kept", lease)

		// The contact writes; the next park finds the window open.
		b.rdb.HSet(ctx, hash, "in", b.now.Add(-time.Hour).UnixMilli())
		_, err = claim(ctx, s, m, "b", time.Minute, b.now)
		require.NoError(t, err)
		opened, err = s.ParkForWindow(ctx, m, "b", "closed", 0, 24*time.Hour, b.now)
		require.NoError(t, err)
		require.True(t, opened)
		require.Equal(t, "b", b.rdb.HGet(ctx, keys.Account("").Outcome("m1"), "lt").Val(), "an open window keeps the lease")
		// A window older than 24 h is closed.
		opened, err = s.ParkForWindow(ctx, m, "b", "closed", 0, 30*time.Minute, b.now)
		require.NoError(t, err)
		require.False(t, opened)
	})

	t.Run("RetryAndReturnLease", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "camp")
		_, err := claim(ctx, s, m, "a", time.Minute, b.now)
		require.NoError(t, err)
		require.NoError(t, s.Retry(ctx, m, "a", "rate limited", 1, b.now))
		r, _ := s.Get(ctx, "", "m1")
		require.Equal(t, Retrying, r.State)
		require.Equal(t, 1, r.Attempts)
		require.Equal(t, "rate limited", r.Error)
		require.Equal(t, "1", counts(t, b, keys.Account("").Campaign("camp"))["n:retrying"])
		require.Zero(t, b.rdb.ZCard(ctx, keys.Account("").CampaignInflight("camp")).Val())

		_, err = claim(ctx, s, m, "b", time.Minute, b.now)
		require.NoError(t, err)
		require.Equal(t, int64(1), b.rdb.ZCard(ctx, keys.Account("").CampaignInflight("camp")).Val())
		require.NoError(t, s.ReturnLease(ctx, m, "b", b.now))
		r, _ = s.Get(ctx, "", "m1")
		require.Equal(t, Retrying, r.State, "returning the lease changes nothing else")
		require.Equal(t, 1, r.Attempts)
		require.Equal(t, "rate limited", r.Error)
		require.Zero(t, b.rdb.ZCard(ctx, keys.Account("").CampaignInflight("camp")).Val())
		c, err := claim(ctx, s, m, "c", time.Minute, b.now)
		require.NoError(t, err)
		require.Equal(t, Claimed, c.Status, "the lease is free")
		require.False(t, c.Ambiguous)
	})

	t.Run("CampaignPausedAndCancelled", func(t *testing.T) {
		s, b := setup(t)
		m1, m2 := msg("m1", "camp"), msg("m2", "camp")
		for _, m := range []*tasks.Message{m1, m2} {
			_, _, err := s.Create(ctx, m, Schedule{}, b.now)
			require.NoError(t, err)
		}
		b.rdb.HSet(ctx, keys.Account("").Campaign("camp"), "st", "paused")
		c, err := claim(ctx, s, m1, "a", time.Minute, b.now)
		require.NoError(t, err)
		require.Equal(t, CampaignPaused, c.Status)
		require.Equal(t, []string{"sendq:whatsapp:bulk m1"}, b.rdb.ZRange(ctx, keys.Account("").CampaignHeld("camp"), 0, -1).Val())

		// Cancel moves unfinished counts to cancelled; records read cancelled.
		b.rdb.HSet(ctx, keys.Account("").Campaign("camp"), "st", "cancelled", "n:queued", 0, "n:cancelled", 2)
		r, err := s.Get(ctx, "", "m2")
		require.NoError(t, err)
		require.Equal(t, Cancelled, r.State)
		c, err = claim(ctx, s, m1, "a", time.Minute, b.now)
		require.NoError(t, err)
		require.Equal(t, CampaignCancel, c.Status)
		cc := counts(t, b, keys.Account("").Campaign("camp"))
		require.Equal(t, "2", cc["n:cancelled"], "counts do not move twice")
		require.Equal(t, "0", cc["n:queued"])
	})

	t.Run("FinishedIsFinalButSentMayTurnFailed", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "")
		_, err := s.Finish(ctx, m, "", Result{State: Expired, Error: "late"}, b.now)
		require.NoError(t, err)
		old, err := s.Finish(ctx, m, "", Result{State: Sent}, b.now)
		require.NoError(t, err)
		require.Equal(t, Expired, old)
		r, _ := s.Get(ctx, "", "m1")
		require.Equal(t, Expired, r.State)
		require.Equal(t, "late", r.Error)

		m2 := msg("m2", "")
		_, err = s.Finish(ctx, m2, "", Result{State: Sent}, b.now)
		require.NoError(t, err)
		_, err = s.Finish(ctx, m2, "", Result{State: Failed, Error: "undeliverable"}, b.now)
		require.NoError(t, err)
		r, _ = s.Get(ctx, "", "m2")
		require.Equal(t, Failed, r.State)
		g := counts(t, b, keys.Account("").Counts())
		require.Equal(t, "0", g["sent"])
		require.Equal(t, "1", g["failed"])
		require.Equal(t, "1", g["expired"])
	})

	t.Run("AutoPauseOnFailureRate", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		defer rdb.Close()
		s, err := New(rdb, Config{AutoPause: AutoPause{Ratio: 0.5, MinSample: 4}})
		require.NoError(t, err)
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		rdb.HSet(ctx, keys.Account("").Campaign("camp"), "st", "running")
		for i, st := range []State{Sent, Failed, Failed, Failed} {
			_, err := s.Finish(ctx, msg("m"+string(rune('a'+i)), "camp"), "", Result{State: st}, now)
			require.NoError(t, err)
		}
		h := rdb.HGetAll(ctx, keys.Account("").Campaign("camp")).Val()
		require.Equal(t, "auto_paused", h["st"])
		require.Contains(t, h["rs"], "failure rate 75%")
	})
}

func TestRecordJSON(t *testing.T) {
	r := Record{ID: "m1", Channel: "whatsapp", Kind: "text", State: Sent, Attempts: 2, UpstreamID: "u",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	b, err := r.MarshalJSON()
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"m1","channel":"whatsapp","kind":"text","state":"sent","attempts":2,"upstream_id":"u","created_at":"2026-01-02T03:04:05Z"}`, string(b))
	var back Record
	require.NoError(t, back.UnmarshalJSON(b))
	require.Equal(t, r, back)
}
