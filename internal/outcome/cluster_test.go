package outcome

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/tasks"
)

// TestAccountsSpreadOverClusterMasters records a message (its record and
// its counts) for each of 30 accounts on the Redis of SENDQ_TEST_REDIS_URL.
// On Redis Cluster every account's keys share one slot (its hash tag), and
// the accounts land on every master (README "Accounts"); elsewhere the test
// only checks that each account's keys carry its own tag.
func TestAccountsSpreadOverClusterMasters(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t, 10)
	s, err := New(rdb, Config{})
	require.NoError(t, err)
	const accounts = 30
	for i := range accounts {
		m := &tasks.Message{ID: "m1", Account: fmt.Sprintf("acct-%02d", i), Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
			To: tasks.Recipient{ContactID: "c1"}}
		_, _, err := s.Create(ctx, m, Schedule{}, time.Now())
		require.NoError(t, err)
	}
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		keys, err := rdb.Keys(ctx, "{sendq:a:acct-*}:*").Result()
		require.NoError(t, err)
		require.Len(t, keys, 2*accounts, "a record and the counts per account, each under its tag")
		t.Skip("not a Redis Cluster: the spread over masters is measured on one (.ci/redis-topologies)")
	}
	var mu sync.Mutex
	perMaster := map[string]map[string]bool{} // master → accounts with keys there
	err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, "{sendq:a:acct-*}:*").Result()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		seen := map[string]bool{}
		for _, k := range keys {
			seen[strings.SplitN(k, "}", 2)[0]] = true
		}
		perMaster[c.Options().Addr] = seen
		return nil
	})
	require.NoError(t, err)
	total := 0
	var report []string
	for addr, seen := range perMaster {
		total += len(seen)
		report = append(report, fmt.Sprintf("%s: %d", addr, len(seen)))
		require.NotEmpty(t, seen, "master %s holds no account", addr)
	}
	t.Logf("%d accounts over %d masters: %s", accounts, len(perMaster), strings.Join(report, ", "))
	require.Equal(t, accounts, total, "each account's keys on exactly one master")
}
