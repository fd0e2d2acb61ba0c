package optout_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/optout"
	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/tasks"
)

var (
	acme  = keys.Account("acme")
	other = keys.Account("other")
	t0    = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
)

func setup(t *testing.T) (*optout.Store, redis.UniversalClient) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s, err := optout.New(rdb, optout.Config{})
	require.NoError(t, err)
	return s, rdb
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	byPhone := tasks.Recipient{Phone: "6591234567"}
	byContact := tasks.Recipient{ContactID: "c-1"}
	both := tasks.Recipient{ContactID: "c-1", Phone: "+65 9123 4567"} // as the webhook knows them

	check := func(t *testing.T, s *optout.Store, space keys.Space, ch tasks.Channel, r tasks.Recipient) bool {
		t.Helper()
		out, err := s.Check(ctx, space, ch, r)
		require.NoError(t, err)
		return out
	}

	t.Run("AddByWebhookMatchesEitherIdentifier", func(t *testing.T) {
		s, _ := setup(t)
		n, err := s.Add(ctx, acme, tasks.WhatsApp, both, t0)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.True(t, check(t, s, acme, tasks.WhatsApp, byPhone))
		require.True(t, check(t, s, acme, tasks.WhatsApp, byContact))
		require.False(t, check(t, s, acme, tasks.WhatsApp, tasks.Recipient{ClientID: "c-1"}), "a client id is another identifier")
		require.False(t, check(t, s, acme, tasks.Telegram, byPhone), "per channel")
		require.False(t, check(t, s, other, tasks.WhatsApp, byPhone), "per account")
		require.False(t, check(t, s, acme, tasks.WhatsApp, tasks.Recipient{}), "no identifier")

		n, err = s.Add(ctx, acme, tasks.WhatsApp, byPhone, t0.Add(time.Hour))
		require.NoError(t, err)
		require.Zero(t, n, "already listed")
		entries, total, err := s.List(ctx, acme, tasks.WhatsApp, 0, 0)
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.ElementsMatch(t, []optout.Entry{
			{Channel: tasks.WhatsApp, ContactID: "c-1", At: t0},
			{Channel: tasks.WhatsApp, Phone: "6591234567", At: t0},
		}, entries, "the first time is kept")
	})

	t.Run("AnyListedIdentifierOptsOut", func(t *testing.T) {
		s, _ := setup(t)
		_, err := s.Add(ctx, acme, tasks.WhatsApp, byPhone, t0)
		require.NoError(t, err)
		require.True(t, check(t, s, acme, tasks.WhatsApp, tasks.Recipient{ContactID: "c-9", Phone: "6591234567"}))
	})

	t.Run("RemoveTakesEveryIdentifierOff", func(t *testing.T) {
		s, _ := setup(t)
		_, err := s.Add(ctx, acme, tasks.WhatsApp, both, t0)
		require.NoError(t, err)
		n, err := s.Remove(ctx, acme, tasks.WhatsApp, byContact)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.True(t, check(t, s, acme, tasks.WhatsApp, byPhone), "the phone is still listed")
		n, err = s.Remove(ctx, acme, tasks.WhatsApp, both)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.False(t, check(t, s, acme, tasks.WhatsApp, byPhone))
		require.False(t, check(t, s, acme, tasks.WhatsApp, byContact))
	})

	t.Run("InvalidInput", func(t *testing.T) {
		s, _ := setup(t)
		for name, call := range map[string]func() error{
			"BadPhone": func() error {
				_, err := s.Add(ctx, acme, tasks.WhatsApp, tasks.Recipient{Phone: "12ab"}, t0)
				return err
			},
			"NoIdentifier": func() error { _, err := s.Add(ctx, acme, tasks.WhatsApp, tasks.Recipient{}, t0); return err },
			"BadChannel":   func() error { _, err := s.Remove(ctx, acme, "sms", byPhone); return err },
			"ListChannel":  func() error { _, _, err := s.List(ctx, acme, "", 0, 0); return err },
		} {
			require.ErrorIs(t, call(), tasks.ErrInvalid, name)
		}
	})

	t.Run("ListPages", func(t *testing.T) {
		s, _ := setup(t)
		for i := range 5 {
			_, err := s.Add(ctx, acme, tasks.Instagram, tasks.Recipient{ContactID: fmt.Sprintf("c-%d", i)}, t0.Add(time.Duration(i)*time.Minute))
			require.NoError(t, err)
		}
		var got []string
		for offset := 0; ; offset += 2 {
			page, total, err := s.List(ctx, acme, tasks.Instagram, offset, 2)
			require.NoError(t, err)
			require.Equal(t, 5, total)
			if len(page) == 0 {
				break
			}
			require.LessOrEqual(t, len(page), 2)
			for _, e := range page {
				got = append(got, e.ContactID)
			}
		}
		require.Equal(t, []string{"c-0", "c-1", "c-2", "c-3", "c-4"}, got, "oldest first, every one once")
	})

	t.Run("Import", func(t *testing.T) {
		s, _ := setup(t)
		entries := make([]optout.Entry, 0, 2500)
		for i := range 2500 { // several pipelined chunks
			e := optout.Entry{Channel: tasks.WhatsApp, Phone: fmt.Sprintf("+6591%06d", i)}
			if i%2 == 1 {
				e = optout.Entry{Channel: tasks.Messenger, ContactID: fmt.Sprintf("c-%d", i), At: t0.Add(-time.Hour)}
			}
			entries = append(entries, e)
		}
		n, err := s.Import(ctx, acme, entries, t0)
		require.NoError(t, err)
		require.Equal(t, 2500, n)
		n, err = s.Import(ctx, acme, entries[:10], t0)
		require.NoError(t, err)
		require.Zero(t, n, "imported again adds nothing")
		require.True(t, check(t, s, acme, tasks.WhatsApp, tasks.Recipient{Phone: "6591002498"}))
		require.True(t, check(t, s, acme, tasks.Messenger, tasks.Recipient{ContactID: "c-2499"}))
		require.False(t, check(t, s, acme, tasks.WhatsApp, tasks.Recipient{ContactID: "c-2499"}))
		page, total, err := s.List(ctx, acme, tasks.Messenger, 0, 1)
		require.NoError(t, err)
		require.Equal(t, 1250, total)
		require.Equal(t, t0.Add(-time.Hour), page[0].At, "an entry's own time")

		_, err = s.Import(ctx, other, []optout.Entry{{Channel: tasks.WhatsApp, Phone: "6591234567"}, {Channel: tasks.WhatsApp, Phone: "x"}}, t0)
		require.ErrorIs(t, err, tasks.ErrInvalid)
		require.ErrorContains(t, err, "entry 1")
		require.False(t, check(t, s, other, tasks.WhatsApp, byPhone), "an invalid entry adds nothing")
	})

	t.Run("KeysInTheAccountSpace", func(t *testing.T) {
		s, rdb := setup(t)
		_, err := s.Add(ctx, acme, tasks.WhatsApp, byPhone, t0)
		require.NoError(t, err)
		ks, err := rdb.Keys(ctx, "*").Result()
		require.NoError(t, err)
		require.Equal(t, []string{acme.OptOut("whatsapp")}, ks)
		require.Contains(t, ks[0], "{sendq:a:acme}")
	})
}

// TestStoreRealRedis runs the checks that depend on the server (ZMSCORE,
// pipelines) against the real Redis.
func TestStoreRealRedis(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t, 8)
	s, err := optout.New(rdb, optout.Config{})
	require.NoError(t, err)
	_, err = s.Import(ctx, acme, []optout.Entry{{Channel: tasks.WhatsApp, Phone: "6591234567"}, {Channel: tasks.WhatsApp, ContactID: "c-1", At: time.Unix(0, 0)}}, t0)
	require.NoError(t, err)
	for _, r := range []tasks.Recipient{{Phone: "6591234567"}, {ContactID: "c-1"}, {ContactID: "c-2", Phone: "6591234567"}} {
		out, err := s.Check(ctx, acme, tasks.WhatsApp, r)
		require.NoError(t, err)
		require.True(t, out, "%+v", r)
	}
	out, err := s.Check(ctx, acme, tasks.WhatsApp, tasks.Recipient{ContactID: "c-2"})
	require.NoError(t, err)
	require.False(t, out)
}
