package worker

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sendq/sendq/internal/poll"
	"github.com/stretchr/testify/require"
)

// pipelineGate is a go-redis hook that counts pipelines and holds the first
// one until released.
type pipelineGate struct {
	pipelines atomic.Int64
	hold      chan struct{}
}

func (h *pipelineGate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *pipelineGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (h *pipelineGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if n := cmds[0].Name(); n == "hello" || n == "client" {
			return next(ctx, cmds) // the connection's set-up
		}
		if h.pipelines.Add(1) == 1 {
			<-h.hold
		}
		return next(ctx, cmds)
	}
}

func newBatchTest(t *testing.T) (*batcher, *pipelineGate) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	h := &pipelineGate{hold: make(chan struct{})}
	rdb.AddHook(h)
	return &batcher{rdb: rdb}, h
}

func (b *batcher) waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queued)
}

// TestBatcherSendsWhatQueuedMeanwhileTogether holds the first request's
// pipeline on its way while 99 more ask: they go in one more pipeline, and
// each gets its own answer.
func TestBatcherSendsWhatQueuedMeanwhileTogether(t *testing.T) {
	b, h := newBatchTest(t)
	ctx := context.Background()
	got := make([]int64, 100)
	var wg sync.WaitGroup
	ask := func(i int) {
		defer wg.Done()
		var cmd *redis.IntCmd
		b.do(ctx, func(p redis.Pipeliner) { cmd = p.IncrBy(ctx, fmt.Sprintf("k%d", i), int64(i)) })
		got[i] = cmd.Val()
		require.NoError(t, cmd.Err())
	}
	wg.Add(1)
	go ask(0)
	poll.Eventually(t, func() bool { return h.pipelines.Load() == 1 }, 5*time.Second, time.Millisecond)
	for i := 1; i < 100; i++ {
		wg.Add(1)
		go ask(i)
	}
	poll.Eventually(t, func() bool { return b.waiting() == 99 }, 5*time.Second, time.Millisecond)
	close(h.hold)
	wg.Wait()
	require.EqualValues(t, 2, h.pipelines.Load(), "the first request alone, then the 99 together")
	for i, v := range got {
		require.EqualValues(t, i, v, "request %d's answer", i)
	}
	require.Zero(t, b.waiting())
	require.False(t, b.busy)
}

// TestBatcherLeadsAlone: with no pipeline on its way a request goes at once,
// alone; one whose context has ended still goes (its commands may be a
// lease's, which must not be taken without the caller knowing).
func TestBatcherLeadsAlone(t *testing.T) {
	b, h := newBatchTest(t)
	close(h.hold)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 3 {
		var cmd *redis.StatusCmd
		b.do(ctx, func(p redis.Pipeliner) { cmd = p.Set(ctx, "k", i, 0) })
		require.NoError(t, cmd.Err())
	}
	require.EqualValues(t, 3, h.pipelines.Load())
}

// TestBatcherAnswersEveryoneWhenRedisIsDown: each command carries the error.
func TestBatcherAnswersEveryoneWhenRedisIsDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	b := &batcher{rdb: rdb}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			var cmd *redis.StringCmd
			b.do(context.Background(), func(p redis.Pipeliner) { cmd = p.Get(context.Background(), "k") })
			require.Error(t, cmd.Err())
		})
	}
	wg.Wait()
	require.False(t, b.busy)
}
