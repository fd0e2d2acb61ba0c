package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
)

type noAPI struct{}

func (noAPI) Send(context.Context, *tasks.Message) (*whautomate.SendResult, error) {
	return nil, errors.New("not in this test")
}
func (noAPI) Messages(context.Context, string, int, int) (*whautomate.MessagePage, error) {
	return nil, errors.New("not in this test")
}

// TestReleaseOutlastsABriefOutage: a run that must give its lease back while
// Redis refuses every command (a failover under way) tries again, and the
// lease is gone once Redis answers; left behind, it would hold the message
// until it ended.
func TestReleaseOutlastsABriefOutage(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	w, err := New(Config{Redis: rdb, API: noAPI{}})
	require.NoError(t, err)
	m := &tasks.Message{ID: "m1", Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
		To: tasks.Recipient{ContactID: "c1"}, Template: &tasks.Template{Name: "t", Language: "en"}}
	_, _, err = w.outcomes.Create(ctx, m, outcome.Schedule{}, time.Now())
	require.NoError(t, err)
	j := &job{w: w, a: w.account(m.Account), m: m, lease: w.newLease(m), start: time.Now()}
	var claimed func() (outcome.Claim, error)
	w.batch.do(ctx, func(p redis.Pipeliner) { claimed = j.lease.ClaimIn(ctx, p, time.Minute, time.Now()) })
	c, err := claimed()
	require.NoError(t, err)
	require.Equal(t, outcome.Claimed, c.Status)

	// An error go-redis does not retry by itself (it retries READONLY and
	// connection errors a few times, within about a second).
	mr.SetError("ERR injected: Redis is switching masters")
	back := time.AfterFunc(250*time.Millisecond, func() { mr.SetError("") })
	defer back.Stop()
	err = j.release(ctx, errors.New("the lease reached 0 of 1 replicas"))
	require.ErrorContains(t, err, "redis")
	poll.Eventually(t, func() bool { return rdb.Ping(ctx).Err() == nil }, 5*time.Second, 10*time.Millisecond)
	// Another run finds the message free: no lease was left behind.
	next := &job{w: w, a: w.account(m.Account), m: m, lease: w.newLease(m), start: time.Now()}
	w.batch.do(ctx, func(p redis.Pipeliner) { claimed = next.lease.ClaimIn(ctx, p, time.Minute, time.Now()) })
	c, err = claimed()
	require.NoError(t, err)
	require.Equal(t, outcome.Claimed, c.Status, "the lease was left behind")
}
