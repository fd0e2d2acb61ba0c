package release

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/poll"
)

// set is a Set in memory, as a store keeps one in Redis.
type set struct {
	mu      sync.Mutex
	members []string
	err     error // Members fails with it
	reads   int
	onRead  func(reads int) // called by Members, when set
}

func (s *set) Members(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.onRead != nil {
		s.onRead(s.reads)
	}
	return slices.Clone(s.members), s.err
}

func (s *set) Remove(_ context.Context, member string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members = slices.DeleteFunc(s.members, func(m string) bool { return m == member })
	return nil
}

func (s *set) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.members)
}

type bundle struct {
	rdb    *redis.Client
	client *asynq.Client
	ins    *asynq.Inspector
}

func setup(t *testing.T) *bundle {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	return &bundle{rdb: rdb, client: asynq.NewClientFromRedisClient(rdb), ins: asynq.NewInspectorFromRedisClient(rdb)}
}

// later enqueues tasks that wait an hour, as parked messages do.
func (b *bundle) later(t *testing.T, queue string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := b.client.Enqueue(asynq.NewTask("t", nil), asynq.Queue(queue), asynq.TaskID(id), asynq.ProcessIn(time.Hour))
		require.NoError(t, err)
	}
}

func (b *bundle) pending(t *testing.T, queue string) []string {
	t.Helper()
	tasks, err := b.ins.ListPendingTasks(queue)
	require.NoError(t, err)
	var ids []string
	for _, ti := range tasks {
		ids = append(ids, ti.ID)
	}
	return ids
}

// running enqueues the task id in queue "q" and returns once a server's
// handler is running it; the handler returns an error (and the task waits an
// hour to retry) after unblock.
func (b *bundle) running(t *testing.T, id string) (srv *asynq.Server, unblock func()) {
	t.Helper()
	started, release := make(chan struct{}, 1), make(chan struct{})
	srv = asynq.NewServerFromRedisClient(b.rdb, asynq.Config{Concurrency: 1, Queues: map[string]int{"q": 1},
		TaskCheckInterval: 10 * time.Millisecond, LogLevel: asynq.FatalLevel,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour }})
	require.NoError(t, srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		return errors.New("parked")
	})))
	t.Cleanup(srv.Shutdown)
	_, err := b.client.Enqueue(asynq.NewTask("t", nil), asynq.Queue("q"), asynq.TaskID(id), asynq.MaxRetry(5))
	require.NoError(t, err)
	<-started
	var once sync.Once
	return srv, func() { once.Do(func() { close(release) }) }
}

func TestOnce(t *testing.T) {
	ctx := context.Background()

	t.Run("InOrderDroppingWhatIsGone", func(t *testing.T) {
		b := setup(t)
		b.later(t, "q", "a", "b", "c", "gone")
		require.NoError(t, b.ins.DeleteTask("q", "gone"))
		_, err := b.client.Enqueue(asynq.NewTask("t", nil), asynq.Queue("q"), asynq.TaskID("now"))
		require.NoError(t, err)
		s := &set{members: []string{keys.Member("q", "c"), keys.Member("q", "gone"), keys.Member("q", "a"), keys.Member("q", "now"),
			keys.Member("nosuchqueue", "x"), "no-queue-in-it", keys.Member("q", "b")}}

		n, busy, err := Once(ctx, b.ins, s)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		require.Empty(t, busy)
		require.Equal(t, []string{"now", "c", "a", "b"}, b.pending(t, "q"), "pending in the set's order")
		require.Empty(t, s.list(), "released, gone and pending already: none waits any more")
	})

	t.Run("KeepsWhatIsRunning", func(t *testing.T) {
		b := setup(t)
		srv, unblock := b.running(t, "m")
		s := &set{members: []string{keys.Member("q", "m")}}

		n, busy, err := Once(ctx, b.ins, s)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, []string{keys.Member("q", "m")}, busy)
		require.Equal(t, []string{keys.Member("q", "m")}, s.list(), "kept, for the next try")

		unblock()
		poll.Eventually(t, func() bool {
			info, err := b.ins.GetTaskInfo("q", "m")
			return err == nil && info.State == asynq.TaskStateRetry
		}, 5*time.Second, 10*time.Millisecond)
		srv.Shutdown()
		n, busy, err = Once(ctx, b.ins, s)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Empty(t, busy)
		require.Equal(t, []string{"m"}, b.pending(t, "q"))
		require.Empty(t, s.list())
	})

	t.Run("ASetThatCannotBeReadIsAnError", func(t *testing.T) {
		b := setup(t)
		_, _, err := Once(ctx, b.ins, &set{err: errors.New("redis down")})
		require.ErrorContains(t, err, "redis down")
	})
}

func TestAll(t *testing.T) {
	ctx := context.Background()

	t.Run("TriesAgainWhileBusy", func(t *testing.T) {
		b := setup(t)
		_, unblock := b.running(t, "m")
		b.later(t, "q", "a")
		s := &set{members: []string{keys.Member("q", "a"), keys.Member("q", "m")}}
		s.onRead = func(reads int) {
			if reads == 2 {
				unblock() // the handler finishes parking between two tries
			}
		}
		n, err := All(ctx, b.ins, s, time.Minute, time.Millisecond)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Empty(t, s.list())
	})

	t.Run("GivesUpAfterPatience", func(t *testing.T) {
		b := setup(t)
		_, unblock := b.running(t, "m")
		defer unblock()
		s := &set{members: []string{keys.Member("q", "m")}}
		n, err := All(ctx, b.ins, s, 50*time.Millisecond, time.Millisecond)
		require.NoError(t, err, "the handler's own re-check finds the rest")
		require.Zero(t, n)
		require.Equal(t, []string{keys.Member("q", "m")}, s.list())
		require.Greater(t, s.reads, 1, "tried again")
	})

	t.Run("StopsWithTheContext", func(t *testing.T) {
		b := setup(t)
		_, unblock := b.running(t, "m")
		defer unblock()
		cctx, cancel := context.WithCancel(ctx)
		s := &set{members: []string{keys.Member("q", "m")}, onRead: func(int) { cancel() }}
		_, err := All(cctx, b.ins, s, time.Minute, time.Minute)
		require.ErrorIs(t, err, context.Canceled)
	})
}
