package redisurl_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/internal/redisurl"
)

// TestConnectionKilledRightAfterUse: the health check skips a connection
// used within the last second, so a command that finds it closed by the
// server must still succeed, on a new connection.
func TestConnectionKilledRightAfterUse(t *testing.T) {
	admin := redistest.Client(t, 0)
	opt := redistest.Options(t, 0) // a standalone server only
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb, err := redisurl.Open(fmt.Sprintf("redis://%s/%d", opt.Addr, opt.DB), 1)
	require.NoError(t, err)
	defer rdb.Close()
	for range 3 {
		id, err := rdb.(*redis.Client).ClientID(ctx).Result()
		require.NoError(t, err)
		require.NoError(t, admin.ClientKillByFilter(ctx, "ID", fmt.Sprint(id)).Err())
		require.NoError(t, rdb.Set(ctx, "k", "v", 0).Err(), "the dead connection is dropped and the command sent on a new one")
		got, err := rdb.(*redis.Client).ClientID(ctx).Result()
		require.NoError(t, err)
		require.NotEqual(t, id, got)
	}
}
