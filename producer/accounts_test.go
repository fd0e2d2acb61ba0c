package producer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// setupAccounts is setup with a deployment's accounts.
func setupAccounts(t *testing.T, list ...accounts.Account) (*producer.Producer, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	set, err := accounts.NewSet(list...)
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Redis: rdb, Accounts: set})
	require.NoError(t, err)
	return p, mr
}

func TestAccounts(t *testing.T) {
	ctx := context.Background()
	perSecond := ratelimit.Limit{Rate: 1, Per: time.Second}

	t.Run("a message names its account, or the only one", func(t *testing.T) {
		p, _ := setupAccounts(t, accounts.Account{ID: "clinic-sg"})
		_, err := p.Send(ctx, text("m1"))
		require.NoError(t, err)
		o, err := p.Status(ctx, "m1")
		require.NoError(t, err)
		require.Equal(t, "clinic-sg", o.Account)
	})

	t.Run("several accounts: the account is required and must be known", func(t *testing.T) {
		p, mr := setupAccounts(t, accounts.Account{ID: "clinic-sg"}, accounts.Account{ID: "clinic-in"})
		for _, account := range []string{"", "clinic-xx", "Bad Id"} {
			m := text("m1")
			m.Account = account
			_, err := p.Send(ctx, m)
			var v *tasks.ValidationError
			require.ErrorAs(t, err, &v, "%q", account)
			require.Equal(t, "account", v.Field)
		}
		require.Empty(t, mr.Keys(), "nothing enqueued for a refused message")
	})

	t.Run("the same id in two accounts is two messages", func(t *testing.T) {
		p, _ := setupAccounts(t, accounts.Account{ID: "clinic-sg"}, accounts.Account{ID: "clinic-in"})
		for _, account := range []string{"clinic-sg", "clinic-in"} {
			m := text("m1")
			m.Account = account
			r, err := p.Send(ctx, m)
			require.NoError(t, err)
			require.False(t, r.Duplicate, account)
		}
	})

	t.Run("a burst past the budget waits in the schedule, each account on its own", func(t *testing.T) {
		p, _ := setupAccounts(t, accounts.Account{ID: "clinic-sg", Budget: perSecond}, accounts.Account{ID: "clinic-in", Budget: perSecond})
		var states []producer.State
		for i := range 4 {
			m := text(fmt.Sprintf("sg-%d", i))
			m.Account = "clinic-sg"
			r, err := p.Send(ctx, m)
			require.NoError(t, err)
			states = append(states, r.State)
		}
		// One a second, admitted up to a second ahead: the first two go
		// into the queue, the others wait their turn.
		require.Equal(t, []producer.State{producer.StateQueued, producer.StateQueued, producer.StateScheduled, producer.StateScheduled}, states)
		o, err := p.StatusOf(ctx, "clinic-sg", "sg-3")
		require.NoError(t, err)
		require.Equal(t, "budget", o.Reason)
		require.WithinDuration(t, time.Now().Add(3*time.Second), o.NotBefore, time.Second)

		m := text("in-0")
		m.Account = "clinic-in"
		r, err := p.Send(ctx, m)
		require.NoError(t, err)
		require.Equal(t, producer.StateQueued, r.State, "another account's message is not behind that burst")
	})

	t.Run("a message due tomorrow does not hold back today's", func(t *testing.T) {
		p, _ := setupAccounts(t, accounts.Account{ID: "clinic-sg", Budget: perSecond})
		later := text("tomorrow")
		later.NotBefore = time.Now().Add(24 * time.Hour)
		r, err := p.Send(ctx, later)
		require.NoError(t, err)
		require.Equal(t, producer.StateScheduled, r.State)
		o, err := p.Status(ctx, "tomorrow")
		require.NoError(t, err)
		require.Equal(t, "at", o.Reason)
		r, err = p.Send(ctx, text("now"))
		require.NoError(t, err)
		require.Equal(t, producer.StateQueued, r.State)
	})

	t.Run("a campaign due tomorrow waits unfed, out of today's way", func(t *testing.T) {
		p, mr := setupAccounts(t, accounts.Account{ID: "clinic-sg", Budget: perSecond})
		at := time.Now().Add(24 * time.Hour).Truncate(time.Second)
		var rows []tasks.Message
		for i := range 1200 { // more than one chunk of the start
			m := text("")
			m.To = tasks.Recipient{ContactID: fmt.Sprintf("c%04d", i)}
			m.NotBefore = at
			rows = append(rows, m)
		}
		_, err := p.StartCampaign(ctx, "spring", rows, producer.StartOptions{})
		require.NoError(t, err)
		c, err := p.CampaignStatus(ctx, "spring")
		require.NoError(t, err)
		require.Equal(t, map[producer.State]int{producer.StateScheduled: 1200}, c.Counts)
		o, err := p.Status(ctx, producer.CampaignMessageID("spring", tasks.WhatsApp, tasks.Recipient{ContactID: "c0042"}))
		require.NoError(t, err)
		require.Equal(t, producer.StateScheduled, o.State)
		require.Equal(t, "at", o.Reason)
		require.True(t, o.NotBefore.Equal(at), "not_before %v, want %v", o.NotBefore, at)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		ins := asynq.NewInspectorFromRedisClient(rdb)
		_, err = ins.GetQueueInfo(keys.Queue("whatsapp", true))
		require.ErrorContains(t, err, "does not exist", "no task until the feeder feeds it")
		r, err := p.Send(ctx, text("now"))
		require.NoError(t, err)
		require.Equal(t, producer.StateQueued, r.State, "today's messages are not behind it")
	})
}
