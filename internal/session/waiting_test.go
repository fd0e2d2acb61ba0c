package session

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

func TestWaiting(t *testing.T) {
	ctx := context.Background()
	s, rdb := setup(t)
	// As the outcome store's Park writes them: scored by enqueue order.
	rdb.ZAdd(ctx, keys.Account("").Waiting("whatsapp", "c:c1"), redis.Z{Score: 3, Member: "q c"}, redis.Z{Score: 1, Member: "q a"},
		redis.Z{Score: 2, Member: "q both"})
	rdb.ZAdd(ctx, keys.Account("").Waiting("whatsapp", "p:6598765432"), redis.Z{Score: 2, Member: "q b"}, redis.Z{Score: 2, Member: "q both"})
	rdb.ZAdd(ctx, keys.Account("").Waiting("whatsapp", "c:other"), redis.Z{Score: 1, Member: "q x"})
	rdb.ZAdd(ctx, keys.Account("").Waiting("messenger", "c:c1"), redis.Z{Score: 1, Member: "q y"})

	t.Run("InEnqueueOrderAcrossIdentitiesEachOnce", func(t *testing.T) {
		members, err := s.Waiting("", tasks.WhatsApp, "c1", "6598765432").Members(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"q a", "q both", "q b", "q c"}, members)
		members, err = s.Waiting("", tasks.WhatsApp, "", "6598765432").Members(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"q b", "q both"}, members)
	})

	t.Run("RemoveFromEveryIdentity", func(t *testing.T) {
		set := s.Waiting("", tasks.WhatsApp, "c1", "6598765432")
		require.NoError(t, set.Remove(ctx, "q both"))
		require.NoError(t, set.Remove(ctx, "q a"))
		members, err := set.Members(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"q b", "q c"}, members)
		require.Equal(t, int64(1), rdb.ZCard(ctx, keys.Account("").Waiting("whatsapp", "c:other")).Val(), "others keep waiting")
		require.Equal(t, int64(1), rdb.ZCard(ctx, keys.Account("").Waiting("messenger", "c:c1")).Val(), "so does another channel")
	})

	t.Run("NoIdentityNoMembers", func(t *testing.T) {
		set := s.Waiting("", tasks.WhatsApp, "", "")
		members, err := set.Members(ctx)
		require.NoError(t, err)
		require.Empty(t, members)
		require.NoError(t, set.Remove(ctx, "q a"))
	})
}
