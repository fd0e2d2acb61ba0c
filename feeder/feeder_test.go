package feeder_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/feeder"
	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/internal/rowpack"
	"github.com/sendq/sendq/internal/taskq"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// The feeder runs on miniredis here, with a short tick; the tests stand in
// for the workers: send finishes fed messages as a worker's send would
// (the record to sent, the task gone), which opens room for more.

var bulk = keys.Queue(string(tasks.WhatsApp), true)

// tenPerSecond with a Lead of 1 s makes a backlog target of 10.
var tenPerSecond = ratelimit.Limit{Rate: 10, Per: time.Second}

const target = 10

type bundle struct {
	mr     *miniredis.Miniredis
	rdb    *redis.Client
	ins    *asynq.Inspector
	client *asynq.Client
	store  *outcome.Store
	p      *producer.Producer

	mu   sync.Mutex
	sent map[string]int // account/id → times sent
}

func setup(t *testing.T) *bundle {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 32})
	t.Cleanup(func() { rdb.Close() })
	set, err := accounts.NewSet(accounts.Account{ID: "acme"}, accounts.Account{ID: "zeta"})
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Redis: rdb, Accounts: set})
	require.NoError(t, err)
	store, err := outcome.New(rdb, outcome.Config{})
	require.NoError(t, err)
	return &bundle{mr: mr, rdb: rdb, ins: asynq.NewInspectorFromRedisClient(rdb),
		client: asynq.NewClientFromRedisClient(rdb), store: store, p: p, sent: map[string]int{}}
}

// running is a Feeder running in the background.
type running struct {
	fed  atomic.Int64 // rows it fed
	stop func()
}

// run starts a Feeder of cfg (the bundle's Redis, a 5 ms tick and a 1 s
// lease unless cfg says otherwise); it stops at the test's end, or at
// stop, which waits until Run has returned.
func (b *bundle) run(t *testing.T, cfg feeder.Config) *running {
	t.Helper()
	r := &running{}
	cfg.Redis = b.rdb
	if cfg.Tick == 0 {
		cfg.Tick = 5 * time.Millisecond
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = time.Second
	}
	f, err := feeder.New(cfg, feeder.Metrics{Fed: func(_ string, n int) { r.fed.Add(int64(n)) }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

// budgeted is a feeder config for account with a backlog target of 10.
func budgeted(account string) feeder.Config {
	return feeder.Config{Accounts: []feeder.Account{{ID: account, Budget: tenPerSecond}}, Lead: time.Second}
}

// phone is the recipient of row i.
func phone(i int) string { return fmt.Sprintf("6591%06d", i) }

// start starts account's campaign id of n rows (due at at, when not zero)
// through the producer and returns the rows' message ids.
func (b *bundle) start(t *testing.T, account, id string, n int, at time.Time) []string {
	t.Helper()
	msgs := make([]tasks.Message, n)
	ids := make([]string, n)
	for i := range msgs {
		msgs[i] = tasks.Message{Channel: tasks.WhatsApp, Kind: tasks.KindTemplate, To: tasks.Recipient{Phone: "+" + phone(i)},
			Template: &tasks.Template{Name: "sale", Language: "en", Params: []string{fmt.Sprint(i)}}, NotBefore: at}
		ids[i] = producer.CampaignMessageID(id, tasks.WhatsApp, tasks.Recipient{Phone: phone(i)})
	}
	rep, err := b.p.StartCampaign(context.Background(), id, msgs, producer.StartOptions{Account: account})
	require.NoError(t, err)
	require.Equal(t, n, rep.Accepted)
	return ids
}

// campaign reads a campaign's report.
func (b *bundle) campaign(t *testing.T, account, id string) *outcome.Campaign {
	t.Helper()
	c, err := b.store.GetCampaign(context.Background(), account, id, time.Now())
	require.NoError(t, err)
	return c
}

func (b *bundle) fed(t *testing.T, account, id string) int { return b.campaign(t, account, id).Fed }

// backlog is how many of account's fed messages wait to be sent.
func (b *bundle) backlog(t *testing.T, account string) int {
	t.Helper()
	counts, err := b.store.Counts(context.Background(), account)
	require.NoError(t, err)
	return int(counts[outcome.Queued] + counts[outcome.Retrying])
}

// feeding lists account's campaigns with rows to feed.
func (b *bundle) feeding(t *testing.T, account string) []string {
	t.Helper()
	states, err := b.store.FeedStates(context.Background(), account)
	require.NoError(t, err)
	var ids []string
	for _, s := range states {
		ids = append(ids, s.ID)
	}
	return ids
}

// chunks counts the stored chunks of a campaign's rows.
func (b *bundle) chunks(t *testing.T, account, id string) int {
	t.Helper()
	n := 0
	for _, k := range b.mr.Keys() {
		if len(k) > 0 && matchPrefix(k, keys.Account(account).Campaign(id)+":k:") {
			n++
		}
	}
	return n
}

func matchPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// tasks lists the message ids of the bulk queue's tasks, pending and
// scheduled.
func (b *bundle) tasks(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){b.ins.ListPendingTasks, b.ins.ListScheduledTasks} {
		infos, err := list(bulk, asynq.PageSize(100_000))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		require.NoError(t, err)
		for _, info := range infos {
			m, err := tasks.DecodeTask(info.Type, info.Payload)
			require.NoError(t, err)
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// send does a worker's part for up to n pending tasks of the bulk queue
// (of campaign only, when not ""): records the message sent and removes
// its task. It returns how many it sent.
func (b *bundle) send(t *testing.T, n int, campaign string) int {
	t.Helper()
	ctx := context.Background()
	infos, err := b.ins.ListPendingTasks(bulk, asynq.PageSize(100_000))
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return 0
	}
	require.NoError(t, err)
	done := 0
	for _, info := range infos {
		if done == n {
			break
		}
		m, err := tasks.DecodeTask(info.Type, info.Payload)
		require.NoError(t, err)
		if campaign != "" && m.Campaign != campaign {
			continue
		}
		_, err = b.store.Finish(ctx, m, "", outcome.Result{State: outcome.Sent, Calls: 1}, time.Now())
		require.NoError(t, err)
		require.NoError(t, b.ins.DeleteTask(bulk, info.ID))
		b.mu.Lock()
		b.sent[m.Account+"/"+m.ID]++
		b.mu.Unlock()
		done++
	}
	return done
}

// sendExactly sends n messages (of campaign only, when not ""), waiting
// for their tasks: a batch's records are in before its tasks are.
func (b *bundle) sendExactly(t *testing.T, n int, campaign string) {
	t.Helper()
	done := 0
	waitFor(t, func() bool {
		done += b.send(t, n-done, campaign)
		return done == n
	}, "%d sent", n)
}

// requireSentOnce checks that every one of account's ids was sent, each
// exactly once, and nothing else.
func (b *bundle) requireSentOnce(t *testing.T, account string, ids ...[]string) {
	t.Helper()
	want := map[string]int{}
	for _, list := range ids {
		for _, id := range list {
			want[account+"/"+id] = 1
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Equal(t, want, b.sent)
}

// waitFor polls cond until it holds, for at most 20 s.
func waitFor(t *testing.T, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	poll.Eventually(t, cond, 20*time.Second, 2*time.Millisecond, msgAndArgs...)
}

// never checks, for 100 ms (some twenty looks of a feeder), that cond
// does not hold.
func never(t *testing.T, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	poll.Never(t, cond, 100*time.Millisecond, 2*time.Millisecond, msgAndArgs...)
}

// sendAll sends the campaigns' fed messages as they come, until every row
// of them is sent.
func (b *bundle) sendAll(t *testing.T, account string, campaigns ...string) {
	t.Helper()
	waitFor(t, func() bool {
		for _, id := range campaigns {
			b.send(t, 100_000, id)
		}
		for _, id := range campaigns {
			if c := b.campaign(t, account, id); c.Counts[outcome.Sent] != c.Total {
				return false
			}
		}
		return true
	}, "every row sent")
}

// records counts account's outcome records.
func (b *bundle) records(t *testing.T, account string) int {
	t.Helper()
	n := 0
	for _, k := range b.mr.Keys() {
		if matchPrefix(k, keys.Account(account).Outcome("")) {
			n++
		}
	}
	return n
}

// feedByHand is a feeder that holds the lease as token and feeds up to n
// rows of campaign id — the records and the cursor — and then dies before
// enqueuing them (or enqueues only the first enqueued of them). It returns
// the batch.
func (b *bundle) feedByHand(t *testing.T, account, token, id string, n, enqueued int) []*tasks.Message {
	t.Helper()
	ctx := context.Background()
	ok, err := b.store.LeaseFeed(ctx, account, token, time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	states, err := b.store.FeedStates(ctx, account)
	require.NoError(t, err)
	var f outcome.FeedState
	for _, s := range states {
		if s.ID == id {
			f = s
		}
	}
	require.Equal(t, id, f.ID)
	at := f.Next
	var batch []*tasks.Message
	for len(batch) < n && at.Chunk < f.Chunks {
		chunk, err := b.store.RowChunk(ctx, account, id, at.Chunk)
		require.NoError(t, err)
		bi, rows, err := rowpack.Header(chunk)
		require.NoError(t, err)
		base, err := b.store.CampaignBase(ctx, account, id, bi)
		require.NoError(t, err)
		msgs, err := rowpack.Decode(chunk, base, at.Row, n-len(batch))
		require.NoError(t, err)
		for i := range msgs {
			m := msgs[i]
			m.Account, m.Campaign = account, id
			m.ID = rowpack.MessageID(id, rowpack.Member(m.Channel, m.To))
			batch = append(batch, &m)
		}
		at.Row += len(msgs)
		if at.Row >= rows {
			at = outcome.Cursor{Chunk: at.Chunk + 1}
		}
	}
	fed := time.Now().Truncate(time.Millisecond).UTC() // as the store keeps it
	for _, m := range batch {
		m.CreatedAt = fed // a fed row is created when it is fed
	}
	require.NoError(t, b.store.Feed(ctx, account, token, f, at, batch, fed))
	for _, m := range batch[:enqueued] {
		task, opts, err := taskq.Task(m, time.Time{})
		require.NoError(t, err)
		_, err = b.client.Enqueue(task, opts...)
		require.NoError(t, err)
	}
	return batch
}

func TestNew(t *testing.T) {
	_, err := feeder.New(feeder.Config{}, feeder.Metrics{})
	require.Error(t, err, "Redis is required")
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	_, err = feeder.New(feeder.Config{Redis: rdb, Lead: -time.Second}, feeder.Metrics{})
	require.Error(t, err)
	_, err = feeder.New(feeder.Config{Redis: rdb}, feeder.Metrics{})
	require.NoError(t, err)
}

func TestFeedsEveryRowOnce(t *testing.T) {
	b := setup(t)
	ids := b.start(t, "acme", "spring", 35, time.Time{})
	r := b.run(t, budgeted("acme"))
	waitFor(t, func() bool { return len(b.tasks(t)) == target }, "fed up to the target")
	require.Equal(t, target, b.backlog(t, "acme"))
	b.sendAll(t, "acme", "spring")
	b.requireSentOnce(t, "acme", ids)
	waitFor(t, func() bool { return r.fed.Load() == 35 }, "the feeder counts what it fed")
	require.Equal(t, 35, b.records(t, "acme"))
	waitFor(t, func() bool { return len(b.feeding(t, "acme")) == 0 }, "the campaign leaves the feeding set")
	require.Zero(t, b.chunks(t, "acme", "spring"))
	waitFor(t, func() bool {
		accts, err := b.store.FeedingAccounts(context.Background())
		require.NoError(t, err)
		return len(accts) == 0
	}, "the account leaves the feeding accounts")
	c := b.campaign(t, "acme", "spring")
	require.Equal(t, outcome.CampaignDone, c.State)
	require.Equal(t, map[outcome.State]int{outcome.Sent: 35}, c.Counts)

	r.stop()
	require.Zero(t, b.mr.Exists(keys.Account("acme").FeedLease()), "a feeder that stops gives its lease back")
}

func TestPendingBatchEnqueuedOnce(t *testing.T) {
	b := setup(t)
	ids := b.start(t, "acme", "spring", 25, time.Time{})
	// A feeder records a batch of 10 and moves the cursor, enqueues 3 of
	// them and dies.
	batch := b.feedByHand(t, "acme", "dead", "spring", 10, 3)
	require.Len(t, b.tasks(t), 3)
	require.Equal(t, 10, b.records(t, "acme"))

	r := b.run(t, feeder.Config{Accounts: []feeder.Account{{ID: "acme"}}, Backlog: target})
	never(t, func() bool { return len(b.tasks(t)) > 3 }, "the lease is the dead feeder's until it lapses")
	b.mr.FastForward(time.Second)
	waitFor(t, func() bool { return len(b.tasks(t)) == 10 }, "the batch enqueued by the next holder")
	var want []string
	for _, m := range batch {
		want = append(want, m.ID)
	}
	require.ElementsMatch(t, want, b.tasks(t), "the pending batch's rows, each once")
	infos, err := b.ins.ListPendingTasks(bulk)
	require.NoError(t, err)
	for _, info := range infos {
		m, err := tasks.DecodeTask(info.Type, info.Payload)
		require.NoError(t, err)
		require.True(t, batch[0].CreatedAt.Equal(m.CreatedAt),
			"%s created when the batch was fed (%v), as its record: its expiry counts from then, not %v", m.ID, batch[0].CreatedAt, m.CreatedAt)
	}
	require.Equal(t, ids[:10], want, "the first rows")
	waitFor(t, func() bool { return b.feeding(t, "acme") != nil && pending(t, b, "acme", "spring") == nil }, "its mark cleared")
	require.Equal(t, 10, b.fed(t, "acme", "spring"), "nothing more fed: the backlog is at its target")
	require.Zero(t, r.fed.Load(), "the batch was fed before")

	b.sendAll(t, "acme", "spring")
	b.requireSentOnce(t, "acme", ids)
	waitFor(t, func() bool { return r.fed.Load() == 15 })
	require.Equal(t, 25, b.records(t, "acme"))
}

func pending(t *testing.T, b *bundle, account, id string) *outcome.Pending {
	t.Helper()
	states, err := b.store.FeedStates(context.Background(), account)
	require.NoError(t, err)
	for _, s := range states {
		if s.ID == id {
			return s.Pending
		}
	}
	return nil
}

func TestTwoFeeders(t *testing.T) {
	b := setup(t)
	ids := b.start(t, "acme", "spring", 60, time.Time{})
	// A process that died holds the account's lease.
	ok, err := b.store.LeaseFeed(context.Background(), "acme", "dead", time.Second)
	require.NoError(t, err)
	require.True(t, ok)

	fa, fb := b.run(t, budgeted("acme")), b.run(t, budgeted("acme"))
	never(t, func() bool { return fa.fed.Load()+fb.fed.Load() > 0 }, "nothing fed while the dead process's lease lasts")
	b.mr.FastForward(time.Second)
	waitFor(t, func() bool { return fa.fed.Load()+fb.fed.Load() == target }, "fed once the lease lapsed")

	holder, other := fa, fb
	if fb.fed.Load() > 0 {
		holder, other = fb, fa
	}
	require.Equal(t, int64(target), holder.fed.Load())
	require.Zero(t, other.fed.Load(), "only the lease's holder feeds")

	b.sendExactly(t, target, "")
	waitFor(t, func() bool { return holder.fed.Load() == 2*target })
	require.Zero(t, other.fed.Load(), "the holder keeps its lease")

	holder.stop()
	b.sendAll(t, "acme", "spring")
	waitFor(t, func() bool { return other.fed.Load() == 60-2*target }, "the other took over")
	require.Equal(t, int64(2*target), holder.fed.Load())
	b.requireSentOnce(t, "acme", ids)
	require.Equal(t, 60, b.records(t, "acme"))
}

func TestBacklogBound(t *testing.T) {
	b := setup(t)
	a := b.start(t, "acme", "spring", 40, time.Time{})
	s := b.start(t, "acme", "summer", 40, time.Time{})

	// Watch the backlog from the start.
	var most atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		sample := time.NewTicker(time.Millisecond)
		defer sample.Stop()
		for {
			counts, err := b.store.Counts(ctx, "acme")
			if err == nil {
				if n := counts[outcome.Queued] + counts[outcome.Retrying]; n > most.Load() {
					most.Store(n)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-sample.C:
			}
		}
	})

	b.run(t, budgeted("acme"))
	for step := 0; ; step++ {
		sent := len(b.sent)
		want := min(target, 80-sent)
		waitFor(t, func() bool { return b.backlog(t, "acme") == want }, "step %d: refilled to %d", step, want)
		if want == 0 {
			break
		}
		b.send(t, 1+step%4, "")
	}
	cancel()
	wg.Wait()
	require.Equal(t, int64(target), most.Load(), "the backlog reaches its target and never passes it")
	b.requireSentOnce(t, "acme", a, s)
}

func TestCampaignsTakeTurns(t *testing.T) {
	b := setup(t)
	b.start(t, "acme", "spring", 200, time.Time{})
	b.start(t, "acme", "summer", 200, time.Time{})
	b.run(t, budgeted("acme"))
	// Sends of one row, then two, then one…: the room of every other look
	// is odd. Campaigns given the room row by row in turn stay within a row
	// of each other (well within a look's share, ceil(10/2)).
	for step := 0; step < 80; step++ {
		waitFor(t, func() bool { return b.backlog(t, "acme") == target }, "step %d: refilled", step)
		a, s := b.fed(t, "acme", "spring"), b.fed(t, "acme", "summer")
		require.LessOrEqual(t, abs(a-s), 1, "step %d: spring %d, summer %d", step, a, s)
		b.sendExactly(t, 1+step%2, "")
	}
	a, s := b.fed(t, "acme", "spring"), b.fed(t, "acme", "summer")
	t.Logf("fed: spring %d, summer %d", a, s)
	require.Greater(t, a+s, 100)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestPauseAndResume(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	b.start(t, "acme", "spring", 40, time.Time{})
	b.start(t, "acme", "summer", 40, time.Time{})
	b.run(t, budgeted("acme"))
	waitFor(t, func() bool { return b.backlog(t, "acme") == target })
	require.Equal(t, target/2, b.fed(t, "acme", "spring"))

	require.NoError(t, b.p.PauseCampaign(ctx, "spring"))
	// A paused campaign's fed messages are held and count no more: the
	// other campaign takes the room; the paused one gets none.
	waitFor(t, func() bool { return b.fed(t, "acme", "summer") == target }, "summer takes the room spring left")
	require.Equal(t, target/2, b.fed(t, "acme", "spring"), "nothing more fed while paused")
	b.sendExactly(t, target/2, "summer")
	waitFor(t, func() bool { return b.fed(t, "acme", "summer") == target+target/2 })
	require.Equal(t, target/2, b.fed(t, "acme", "spring"), "nothing more fed while paused")

	require.NoError(t, b.p.ResumeCampaign(ctx, "spring"))
	b.sendExactly(t, target, "summer")
	waitFor(t, func() bool { return b.fed(t, "acme", "spring") > target/2 }, "feeding goes on after resume")
	waitFor(t, func() bool { return b.backlog(t, "acme") == target })
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	b.start(t, "acme", "spring", 2500, time.Time{}) // three chunks
	b.start(t, "acme", "summer", 20, time.Time{})
	b.run(t, budgeted("acme"))
	waitFor(t, func() bool { return b.backlog(t, "acme") == target })
	require.Equal(t, 3, b.chunks(t, "acme", "spring"))

	require.NoError(t, b.p.CancelCampaign(ctx, "spring"))
	waitFor(t, func() bool { return len(b.feeding(t, "acme")) == 1 }, "the cancelled campaign leaves the feeding set")
	require.Equal(t, []string{"summer"}, b.feeding(t, "acme"))
	require.Zero(t, b.chunks(t, "acme", "spring"), "its chunks dropped")
	c := b.campaign(t, "acme", "spring")
	require.Equal(t, outcome.CampaignCancelled, c.State)
	require.Equal(t, map[outcome.State]int{outcome.Cancelled: 2500}, c.Counts)
	require.Equal(t, target/2, c.Fed)

	b.sendAll(t, "acme", "summer")
	waitFor(t, func() bool {
		accts, err := b.store.FeedingAccounts(ctx)
		require.NoError(t, err)
		return len(accts) == 0
	}, "the account leaves the feeding accounts once its campaigns are done")
	require.Equal(t, 20, b.campaign(t, "acme", "summer").Counts[outcome.Sent])
}

func TestCancelWithABatchPending(t *testing.T) {
	// A feeder fed a batch across two chunks and died before enqueuing it;
	// the campaign is cancelled: the next feeder drops every chunk, the
	// pending batch's too.
	ctx := context.Background()
	b := setup(t)
	b.start(t, "acme", "spring", 1003, time.Time{})
	b.feedByHand(t, "acme", "dead", "spring", 1001, 0)
	require.Equal(t, 2, b.chunks(t, "acme", "spring"))
	require.NoError(t, b.p.CancelCampaign(ctx, "spring"))
	b.mr.FastForward(time.Second)
	b.run(t, feeder.Config{Accounts: []feeder.Account{{ID: "acme"}}})
	waitFor(t, func() bool { return len(b.feeding(t, "acme")) == 0 }, "the cancelled campaign leaves the feeding set")
	require.Zero(t, b.chunks(t, "acme", "spring"), "no chunk left behind")
	require.Empty(t, b.tasks(t), "a cancelled campaign's pending batch is not enqueued")
}

func TestAtLaterThanLead(t *testing.T) {
	b := setup(t)
	b.start(t, "acme", "later", 5, time.Now().Add(time.Hour))
	soon := b.start(t, "acme", "soon", 5, time.Now().Add(500*time.Millisecond))
	now := b.start(t, "acme", "now", 5, time.Time{})
	b.run(t, feeder.Config{Accounts: []feeder.Account{{ID: "acme"}}, Lead: 3 * time.Second})
	// The cursor moves before the batch's tasks are enqueued: wait for both.
	waitFor(t, func() bool {
		return b.fed(t, "acme", "now") == 5 && b.fed(t, "acme", "soon") == 5 && len(b.tasks(t)) == 10
	}, "campaigns due within Lead are fed and enqueued")
	require.ElementsMatch(t, append(append([]string{}, soon...), now...), b.tasks(t))
	never(t, func() bool { return b.fed(t, "acme", "later") > 0 }, "a campaign due past Lead waits")
	require.Equal(t, map[outcome.State]int{outcome.Scheduled: 5}, b.campaign(t, "acme", "later").Counts)
	require.Equal(t, []string{"later"}, waitFeeding(t, b, "acme", 1), "the others are done feeding")
}

// waitFeeding waits until account has n campaigns to feed, and lists them.
func waitFeeding(t *testing.T, b *bundle, account string, n int) []string {
	t.Helper()
	waitFor(t, func() bool { return len(b.feeding(t, account)) == n })
	return b.feeding(t, account)
}

func TestStartUnderWayIsNotFed(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	// A start that stored a chunk and has not ended (fin=0).
	msgs := make([]tasks.Message, 5)
	var members [][rowpack.MemberSize]byte
	created := time.Now()
	for i := range msgs {
		msgs[i] = tasks.Message{Account: "acme", Campaign: "spring", Channel: tasks.WhatsApp, Kind: tasks.KindText,
			To: tasks.Recipient{Phone: phone(i)}, Text: "hi", CreatedAt: created}
		msgs[i].ID = rowpack.MessageID("spring", rowpack.Member(msgs[i].Channel, msgs[i].To))
		members = append(members, rowpack.Member(msgs[i].Channel, msgs[i].To))
	}
	require.NoError(t, b.store.OpenCampaign(ctx, "acme", "spring", time.Now()))
	rs, err := b.store.BeginRows(ctx, "acme", "spring", msgs[0], time.Time{})
	require.NoError(t, err)
	w := rowpack.NewWriter(msgs[0], rs.Base)
	for i := range msgs {
		require.NoError(t, w.Add(&msgs[i]))
	}
	require.NoError(t, b.store.AppendRows(ctx, "acme", "spring", &rs, w.Chunk(), members, false, time.Now()))
	require.NoError(t, b.store.MarkFeeding(ctx, "acme"))
	b.start(t, "acme", "summer", 5, time.Time{})

	b.run(t, feeder.Config{Accounts: []feeder.Account{{ID: "acme"}}})
	require.Equal(t, []string{"spring"}, waitFeeding(t, b, "acme", 1), "summer fed and done, spring not")
	never(t, func() bool { return b.fed(t, "acme", "spring") > 0 }, "a start under way is not fed")
	require.NoError(t, b.store.CampaignEnqueued(ctx, "acme", "spring"))
	waitFor(t, func() bool { return b.fed(t, "acme", "spring") == 5 }, "fed once the start ends")
	waitFeeding(t, b, "acme", 0)
}

func TestAccountsAreFedApart(t *testing.T) {
	// Each account's backlog is its own: one account's full backlog holds
	// no room of the other's, and a feeder feeds only its own accounts.
	b := setup(t)
	b.start(t, "acme", "spring", 15, time.Time{})
	b.start(t, "zeta", "autumn", 15, time.Time{})
	b.run(t, feeder.Config{Accounts: []feeder.Account{{ID: "acme", Budget: tenPerSecond}}, Lead: time.Second})
	waitFor(t, func() bool { return b.backlog(t, "acme") == target })
	never(t, func() bool { return b.fed(t, "zeta", "autumn") > 0 }, "zeta is not this feeder's")
	zeta := b.run(t, feeder.Config{Accounts: []feeder.Account{{ID: "zeta"}}})
	waitFor(t, func() bool { return zeta.fed.Load() == 15 })
	require.Equal(t, 15, b.fed(t, "zeta", "autumn"))
	require.Equal(t, target, b.fed(t, "acme", "spring"), "acme's backlog is its own")
}

// park does a worker's part for the pending tasks of the bulk queue when
// quiet hours hold them: records each scheduled and removes its task. It
// returns the messages parked.
func (b *bundle) park(t *testing.T) []*tasks.Message {
	t.Helper()
	ctx := context.Background()
	infos, err := b.ins.ListPendingTasks(bulk, asynq.PageSize(100_000))
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	require.NoError(t, err)
	var parked []*tasks.Message
	for _, info := range infos {
		m, err := tasks.DecodeTask(info.Type, info.Payload)
		require.NoError(t, err)
		_, err = b.store.Finish(ctx, m, "", outcome.Result{State: outcome.Scheduled, Reason: "quiet_hours"}, time.Now())
		require.NoError(t, err)
		require.NoError(t, b.ins.DeleteTask(bulk, info.ID))
		parked = append(parked, m)
	}
	return parked
}

func TestParkedBound(t *testing.T) {
	// Messages set aside until a time leave the backlog; without a bound,
	// a campaign started in quiet hours would be fed whole.
	ctx := context.Background()
	b := setup(t)
	b.start(t, "acme", "night", 30, time.Time{})
	b.run(t, feeder.Config{Accounts: []feeder.Account{{ID: "acme"}}, Backlog: 3, MaxParked: 5})
	var parked []*tasks.Message
	waitFor(t, func() bool {
		parked = append(parked, b.park(t)...)
		return b.fed(t, "acme", "night") >= 5 && b.backlog(t, "acme") == 0
	}, "fed past the bound, all parked")
	fed := b.fed(t, "acme", "night")
	require.Less(t, fed, 5+3, "no look feeds once the bound is reached")
	never(t, func() bool { return b.fed(t, "acme", "night") > fed }, "nothing more fed while %d are parked", fed)

	// Quiet hours end: the parked messages are sent, and feeding goes on.
	for _, m := range parked {
		_, err := b.store.Finish(ctx, m, "", outcome.Result{State: outcome.Sent, Calls: 1}, time.Now())
		require.NoError(t, err)
	}
	waitFor(t, func() bool { return b.fed(t, "acme", "night") > fed }, "fed again once the parked ones went")
}
