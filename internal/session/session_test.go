package session

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

func setup(t *testing.T) (*Store, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s, err := New(rdb, Config{})
	require.NoError(t, err)
	return s, rdb
}

// lookup is LookupIn on a pipeline of its own.
func lookup(t *testing.T, s *Store, m *tasks.Message, now time.Time) Status {
	t.Helper()
	ctx := context.Background()
	p := s.rdb.Pipeline()
	looked := s.LookupIn(ctx, p, m, now)
	_, _ = p.Exec(ctx) // each command carries its own error (NOSCRIPT: looked loads it)
	st, err := looked()
	require.NoError(t, err)
	return st
}

// TestWindowRule: the rule, as WindowLua writes it and LookupIn runs it.
func TestWindowRule(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	m := &tasks.Message{ID: "m", Channel: tasks.WhatsApp, Kind: tasks.KindText, To: tasks.Recipient{ContactID: "c1"}, Text: "x"}
	for _, tc := range []struct {
		name            string
		inbound, closed int64
		want            Status
	}{
		{"NothingOnRecord", 0, 0, Unknown},
		{"WroteAnHourAgo", ms(-time.Hour), 0, Open},
		{"WroteJustUnder24hAgo", ms(-24*time.Hour + time.Millisecond), 0, Open},
		{"Wrote24hAgo", ms(-24 * time.Hour), 0, Closed},
		{"RefusedAfterTheInbound", ms(-time.Hour), ms(-time.Minute), Closed},
		{"RefusedAtTheInbound", ms(-time.Hour), ms(-time.Hour), Open},
		{"RefusedNeverWrote", 0, ms(-time.Minute), Closed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rdb := setup(t)
			for f, v := range map[string]int64{fieldInbound: tc.inbound, fieldClosed: tc.closed} {
				if v != 0 {
					require.NoError(t, rdb.HSet(ctx, keys.Account("").Session("whatsapp", "c:c1"), f, v).Err())
				}
			}
			require.Equal(t, tc.want, lookup(t, s, m, now))
		})
	}
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	text := func(to tasks.Recipient) *tasks.Message {
		return &tasks.Message{ID: "m", Channel: tasks.WhatsApp, Kind: tasks.KindText, To: to, Text: "x"}
	}

	t.Run("InboundByPhoneOpensTheWindowOfThatChannelOnly", func(t *testing.T) {
		s, _ := setup(t)
		require.NoError(t, s.RecordInbound(ctx, "", tasks.WhatsApp, "c1", "6598765432", now.Add(-time.Hour)))
		for _, to := range []tasks.Recipient{{ContactID: "c1"}, {Phone: "6598765432"}} {
			require.Equal(t, Open, lookup(t, s, text(to), now))
		}
		m := text(tasks.Recipient{ContactID: "c1"})
		m.Channel = tasks.Messenger
		require.Equal(t, Unknown, lookup(t, s, m, now))
	})

	t.Run("RefusalClosesUntilTheContactWritesAgain", func(t *testing.T) {
		s, _ := setup(t)
		m := text(tasks.Recipient{Phone: "6598765432"})
		require.NoError(t, s.RecordInbound(ctx, "", tasks.WhatsApp, "", "6598765432", now.Add(-time.Hour)))
		require.NoError(t, s.RecordClosed(ctx, m, now))
		require.Equal(t, Closed, lookup(t, s, m, now))
		// An inbound stamped earlier than the refusal (clocks differ) still reopens.
		require.NoError(t, s.RecordInbound(ctx, "", tasks.WhatsApp, "", "6598765432", now.Add(-time.Minute)))
		require.Equal(t, Open, lookup(t, s, m, now))
	})

	t.Run("AProbeRecordsTheInboundAndTellsTheWindow", func(t *testing.T) {
		s, _ := setup(t)
		m := text(tasks.Recipient{ContactID: "c1"})
		require.NoError(t, s.RecordClosed(ctx, m, now.Add(-time.Minute)))
		st, err := s.RecordProbed(ctx, m, now.Add(-25*time.Hour), now)
		require.NoError(t, err)
		require.Equal(t, Closed, st, "written more than 24 h ago")
		st, err = s.RecordProbed(ctx, m, now.Add(-time.Hour), now)
		require.NoError(t, err)
		require.Equal(t, Open, st)
		require.Equal(t, Open, lookup(t, s, m, now), "recorded: the refusal before it is forgotten")
		st, err = s.RecordProbed(ctx, text(tasks.Recipient{ClientID: "x"}), now, now)
		require.NoError(t, err)
		require.Equal(t, Unknown, st, "a client id has no window on record")
	})

	t.Run("LookupInAfterAScriptFlush", func(t *testing.T) {
		// A Redis that restarted has no scripts loaded: the pipelined
		// EVALSHA answers NOSCRIPT, and the look-up goes again with the script.
		s, rdb := setup(t)
		m := text(tasks.Recipient{ContactID: "c1"})
		require.NoError(t, s.RecordInbound(ctx, "", tasks.WhatsApp, "c1", "", now.Add(-time.Hour)))
		require.NoError(t, rdb.ScriptFlush(ctx).Err())
		p := rdb.Pipeline()
		looked := s.LookupIn(ctx, p, m, now)
		_, _ = p.Exec(ctx)
		st, err := looked()
		require.NoError(t, err)
		require.Equal(t, Open, st)
	})

	t.Run("TemplatesAndTelegramAreExempt", func(t *testing.T) {
		s, _ := setup(t)
		m := text(tasks.Recipient{ContactID: "c1"})
		require.True(t, s.Applies(m))
		m.Kind = tasks.KindTemplate
		require.False(t, s.Applies(m))
		m.Kind, m.Channel = tasks.KindText, tasks.Telegram
		require.False(t, s.Applies(m))
	})
}

// TestLookupWithRedisDown: a lookup that cannot reach Redis is an error.
// go-redis leaves a pipeline's commands without an error once a dial error
// has used up its retries, and the lookup used to read such a command as an
// answer (and index into its empty value).
func TestLookupWithRedisDown(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	addr := mr.Addr()
	mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	s, err := New(rdb, Config{})
	require.NoError(t, err)
	m := &tasks.Message{ID: "m", Channel: tasks.WhatsApp, Kind: tasks.KindText, To: tasks.Recipient{ContactID: "c1"}, Text: "hi"}
	p := rdb.Pipeline()
	looked := s.LookupIn(ctx, p, m, time.Now())
	_, err = p.Exec(ctx)
	require.Error(t, err)
	st, err := looked()
	require.ErrorContains(t, err, "session: lookup")
	require.Equal(t, Unknown, st)
}
