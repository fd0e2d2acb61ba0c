package producer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/feeder"
	"github.com/sendq/sendq/internal/poll"
)

// runFeeder runs the workers' campaign feeder on rdb for the test's length:
// a start stores rows, and the feeder is what puts them in the queues.
func runFeeder(t *testing.T, rdb redis.UniversalClient, accts ...feeder.Account) {
	t.Helper()
	if len(accts) == 0 {
		accts = []feeder.Account{{ID: "default"}}
	}
	f, err := feeder.New(feeder.Config{Redis: rdb, Accounts: accts, Tick: 5 * time.Millisecond, Backlog: 5000}, feeder.Metrics{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = f.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitPending waits until queue holds n tasks, pending or scheduled.
func (b *bundle) waitPending(t *testing.T, queue string, n int) {
	t.Helper()
	poll.Eventually(t, func() bool { return b.pending(t, queue) == n }, 10*time.Second, 5*time.Millisecond,
		"%d tasks in %s", n, queue)
}
