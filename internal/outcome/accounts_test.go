package outcome

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
)

// TestAccounts: a message id is its account's own; a look-up by id alone
// finds it in whichever account has it; a campaign id belongs to one
// account.
func TestAccounts(t *testing.T) {
	ctx := context.Background()

	t.Run("the same id in two accounts is two messages", func(t *testing.T) {
		s, b := setup(t)
		for _, account := range []string{"clinic-a", "clinic-z"} {
			m := msg("m1", "")
			m.Account = account
			created, _, err := s.Create(ctx, m, Schedule{}, b.now)
			require.NoError(t, err)
			require.True(t, created, "%s's own", account)
		}
		require.Equal(t, "1", counts(t, b, keys.Account("clinic-a").Counts())["queued"])
		require.Equal(t, "1", counts(t, b, keys.Account("clinic-z").Counts())["queued"])
		r, err := s.Get(ctx, "clinic-z", "m1")
		require.NoError(t, err)
		require.Equal(t, "clinic-z", r.Account)
	})

	t.Run("Find looks in every account", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "")
		m.Account = "clinic-z"
		_, _, err := s.Create(ctx, m, Schedule{}, b.now)
		require.NoError(t, err)
		r, err := s.Find(ctx, []string{"clinic-a", "clinic-z"}, "m1")
		require.NoError(t, err)
		require.Equal(t, "clinic-z", r.Account)
		_, err = s.Find(ctx, []string{"clinic-a"}, "m1")
		require.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("the default account keeps the single-account keys", func(t *testing.T) {
		s, b := setup(t)
		_, _, err := s.Create(ctx, msg("m1", ""), Schedule{}, b.now)
		require.NoError(t, err)
		require.True(t, b.mr.Exists("{sendq}:m:m1"))
		r, err := s.Get(ctx, "default", "m1")
		require.NoError(t, err)
		require.Equal(t, "default", r.Account)
	})

	t.Run("a campaign id is one account's", func(t *testing.T) {
		s, b := setup(t)
		require.NoError(t, s.OpenCampaign(ctx, "clinic-a", "spring", b.now))
		require.NoError(t, s.OpenCampaign(ctx, "clinic-a", "spring", b.now), "started again by its own account")
		require.ErrorIs(t, s.OpenCampaign(ctx, "clinic-z", "spring", b.now), ErrCampaignAccount)
		account, err := s.CampaignAccount(ctx, "spring")
		require.NoError(t, err)
		require.Equal(t, "clinic-a", account)
		_, err = s.CampaignAccount(ctx, "summer")
		require.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("a scheduled record says when and why, until it moves on", func(t *testing.T) {
		s, b := setup(t)
		m := msg("m1", "")
		at := b.now.Add(time.Minute)
		_, st, err := s.Create(ctx, m, Schedule{NotBefore: at, Reason: "budget"}, b.now)
		require.NoError(t, err)
		require.Equal(t, Scheduled, st)
		r, err := s.Get(ctx, "", "m1")
		require.NoError(t, err)
		require.Equal(t, "budget", r.Reason)
		require.Equal(t, at, r.NotBefore)
		c, err := claim(ctx, s, m, "run", time.Minute, at)
		require.NoError(t, err)
		require.Equal(t, Claimed, c.Status)
		require.NoError(t, s.Retry(ctx, m, "run", "upstream 503", 1, at))
		r, err = s.Get(ctx, "", "m1")
		require.NoError(t, err)
		require.Equal(t, Retrying, r.State)
		require.Empty(t, r.Reason)
		require.True(t, r.NotBefore.IsZero())
	})
}
