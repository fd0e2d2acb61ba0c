// Package feeder feeds campaigns: it moves each campaign's stored rows
// (README "Campaigns") into the bulk queues a few seconds ahead of their
// sends, at the pace its account's budget leaves after the account's
// transactional messages, taking the account's campaigns in turn.
//
// Every worker process runs a Feeder. One of them at a time feeds an
// account — the holder of the account's feed lease, which another takes
// over within LeaseTTL when its holder dies — so the turns are one
// process's to give. Progress is durable: a batch's records and the
// campaign's cursor move together in one Redis script, and a batch whose
// tasks may not all be enqueued stays marked until they are, so that the
// next holder enqueues it again (a message already enqueued or finished is
// not sent twice).
//
// The feeder keeps each account's backlog — its campaigns' messages fed and
// waiting to be sent — near Lead's worth of its budget: as sends go, room
// opens and the feeder fills it. That follows the account's real pace,
// whatever its transactional messages take, and keeps every campaign's
// unsent rows out of the queues, where they would hold up other accounts.
package feeder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// Config sets a Feeder up.
type Config struct {
	// Redis is the deployment's Redis, the same as the workers'.
	Redis redis.UniversalClient
	// Accounts are those this process feeds: the worker's.
	Accounts []Account
	// Lead is how far ahead of the sends an account with a budget is fed:
	// its backlog is kept near Lead's worth of its budget (and at least
	// MinBacklog). Defaults to 3 s.
	Lead time.Duration
	// MinBacklog is the smallest backlog an account with a budget is fed
	// to. Defaults to 5.
	MinBacklog int
	// Backlog is the backlog of an account with no budget. Defaults to
	// 1,000.
	Backlog int
	// MaxParked is how many of a campaign's fed messages may be scheduled
	// (set aside until quiet hours end, or the messaging limit frees a
	// place) before the campaign is fed no more: they leave the backlog,
	// and without a bound a campaign started at night would be fed whole,
	// into the queues' schedule. Defaults to 1,000.
	MaxParked int
	// Tick is how often the feeder looks for room. Defaults to 200 ms.
	Tick time.Duration
	// LeaseTTL is how long an account's feed lease outlives its holder.
	// Defaults to 5 s.
	LeaseTTL time.Duration
	// Retention and MaxWait are the outcome records' (worker.Config's).
	Retention, MaxWait time.Duration
	// Logger gets the feeder's errors. Defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Redis == nil {
		return errors.New("feeder: Config.Redis is required")
	}
	if c.Lead < 0 || c.MinBacklog < 0 || c.Backlog < 0 || c.MaxParked < 0 || c.Tick < 0 || c.LeaseTTL < 0 {
		return errors.New("feeder: negative Lead, MinBacklog, Backlog, MaxParked, Tick or LeaseTTL")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Lead, 3*time.Second)
	def(&c.Tick, 200*time.Millisecond)
	def(&c.LeaseTTL, 5*time.Second)
	if c.MinBacklog == 0 {
		c.MinBacklog = 5
	}
	if c.Backlog == 0 {
		c.Backlog = 1000
	}
	if c.MaxParked == 0 {
		c.MaxParked = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Account is an account to feed.
type Account struct {
	ID string
	// Budget is the account's request budget (the zero Limit: none).
	Budget ratelimit.Limit
}

// Feeder feeds the campaigns of its accounts (see the package doc).
type Feeder struct {
	cfg    Config
	store  *outcome.Store
	client *asynq.Client
	token  string
	accts  map[string]Account

	mu      sync.Mutex
	busy    map[string]bool    // accounts being fed right now
	turn    map[string]string  // each account's campaign whose turn is next
	cache   map[string]*cached // campaign (account + id) → its current chunk
	wg      sync.WaitGroup
	metrics Metrics
}

// Metrics hears what the feeder does; the zero value hears nothing.
type Metrics struct {
	// Fed is called with each batch fed: the account and how many rows.
	Fed func(account string, rows int)
}

// New makes a Feeder; Run starts it.
func New(cfg Config, m Metrics) (*Feeder, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	store, err := outcome.New(cfg.Redis, outcome.Config{Retention: cfg.Retention, MaxWait: cfg.MaxWait})
	if err != nil {
		return nil, err
	}
	f := &Feeder{cfg: cfg, store: store, client: asynq.NewClientFromRedisClient(cfg.Redis), token: newToken(),
		accts: map[string]Account{}, busy: map[string]bool{}, turn: map[string]string{},
		cache: map[string]*cached{}, metrics: m}
	for _, a := range cfg.Accounts {
		f.accts[a.ID] = a
	}
	return f, nil
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run feeds until ctx ends, then gives its leases back.
func (f *Feeder) Run(ctx context.Context) error {
	t := time.NewTicker(f.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			f.wg.Wait()
			bg := context.WithoutCancel(ctx)
			for id := range f.accts {
				_ = f.store.ReleaseFeed(bg, id, f.token)
			}
			return nil
		case <-t.C:
			f.tick(ctx)
		}
	}
}

// tick starts feeding every account of this process that has campaigns to
// feed and is not being fed already.
func (f *Feeder) tick(ctx context.Context) {
	ids, err := f.store.FeedingAccounts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.cfg.Logger.Warn("feeder: list accounts", "err", err)
		}
		return
	}
	for _, id := range ids {
		a, ok := f.accts[id]
		if !ok {
			continue
		}
		f.mu.Lock()
		if f.busy[id] {
			f.mu.Unlock()
			continue
		}
		f.busy[id] = true
		f.mu.Unlock()
		f.wg.Go(func() {
			defer func() {
				f.mu.Lock()
				delete(f.busy, id)
				f.mu.Unlock()
			}()
			if err := f.feedAccount(ctx, a); err != nil && ctx.Err() == nil {
				f.cfg.Logger.Warn("feeder: feed", "account", id, "err", err)
			}
		})
	}
}

// target is the backlog account a is fed to.
func (f *Feeder) target(a Account) int {
	if a.Budget.IsZero() {
		return f.cfg.Backlog
	}
	n := int(math.Ceil(float64(f.cfg.Lead) / float64(a.Budget.Interval())))
	return max(n, f.cfg.MinBacklog)
}

// maxBatch is the most rows fed to one campaign in one go.
const maxBatch = 1000

// feedAccount is one look at an account: under its lease, it settles its
// campaigns that need it (cancelled, all fed, a batch left pending) and
// feeds the room its backlog leaves, in turn.
func (f *Feeder) feedAccount(ctx context.Context, a Account) error {
	ok, err := f.store.LeaseFeed(ctx, a.ID, f.token, f.cfg.LeaseTTL)
	if err != nil || !ok {
		return err
	}
	states, err := f.store.FeedStates(ctx, a.ID)
	if err != nil {
		return err
	}
	if len(states) == 0 {
		return f.store.DropFeedingAccount(ctx, a.ID)
	}
	now := time.Now()
	backlog := 0
	var ready []outcome.FeedState
	for _, s := range states {
		if s.State == outcome.CampaignCancelled {
			f.forget(a.ID, s.ID)
			// A batch left pending is never enqueued now, and nothing
			// dropped the chunks it was read from: they go too.
			from := s.Next.Chunk
			if s.Pending != nil {
				from = min(from, s.Pending.At.Chunk)
			}
			if _, err := f.store.StopFeeding(ctx, a.ID, s.ID, from, s.Chunks); err != nil {
				return err
			}
			continue
		}
		if s.Pending != nil {
			if err := f.enqueuePending(ctx, a, s); err != nil {
				return err
			}
			s.Pending = nil
		}
		if s.State == outcome.CampaignRunning {
			backlog += s.Backlog
		}
		if s.Fed >= s.Total {
			if s.Complete {
				f.forget(a.ID, s.ID)
				if _, err := f.store.StopFeeding(ctx, a.ID, s.ID, s.Next.Chunk, s.Chunks); err != nil {
					return err
				}
			}
			continue
		}
		// A paused campaign's fed messages are held, and no more are fed; a
		// start under way, or cut short, is fed once a start completes it;
		// one with MaxParked messages set aside waits for them.
		if s.State == outcome.CampaignRunning && s.Complete && s.NotBefore.Before(now.Add(f.cfg.Lead)) &&
			s.Parked < f.cfg.MaxParked {
			ready = append(ready, s)
		}
	}
	room := f.target(a) - backlog
	if room <= 0 || len(ready) == 0 {
		return nil
	}
	// The campaigns take the room in turn, row by row, each look going on
	// from where the last one stopped: however the room comes (a row in
	// one look, two in the next, …), no campaign gets more than a row
	// ahead of another.
	left := make([]int, len(ready))
	for i, s := range ready {
		left[i] = min(s.Total-s.Fed, maxBatch)
	}
	f.mu.Lock()
	first := max(slices.IndexFunc(ready, func(s outcome.FeedState) bool { return s.ID == f.turn[a.ID] }), 0)
	give, next := split(room, left, first)
	f.turn[a.ID] = ready[next].ID
	f.mu.Unlock()
	for i, s := range ready {
		if give[i] == 0 {
			continue
		}
		if _, err := f.feed(ctx, a, s, give[i]); err != nil {
			if errors.Is(err, outcome.ErrFeedMoved) || errors.Is(err, outcome.ErrFeedLease) {
				return nil // another look will see what changed
			}
			return err
		}
	}
	return nil
}

// split gives room rows to campaigns that have left[i] rows to take each,
// one row at a time in turn from campaign first on. It returns each
// campaign's rows and the one whose turn is next.
func split(room int, left []int, first int) (give []int, next int) {
	give = make([]int, len(left))
	next = first
	for room > 0 {
		gave := false
		for range left {
			i := next
			next = (next + 1) % len(left)
			if give[i] < left[i] {
				give[i]++
				room--
				gave = true
				if room == 0 {
					break
				}
			}
		}
		if !gave {
			break
		}
	}
	return give, next
}

// feed feeds up to n rows of campaign s from its cursor: it records them,
// moves the cursor, enqueues their tasks and clears the batch's mark.
func (f *Feeder) feed(ctx context.Context, a Account, s outcome.FeedState, n int) (int, error) {
	b, err := f.rows(ctx, a.ID, s.ID, s.Next, n, s.Chunks)
	if err != nil {
		return 0, err
	}
	if len(b.msgs) == 0 {
		return 0, nil
	}
	now := time.Now()
	for _, m := range b.msgs {
		// A row's default expiry (worker.Config.DefaultExpiry) counts from
		// when it is fed: a row waiting for its turn is not getting old,
		// and a long campaign's last rows must not expire unsent.
		m.CreatedAt = now
	}
	if err := f.store.Feed(ctx, a.ID, f.token, s, b.next, b.msgs, now); err != nil {
		return 0, err
	}
	if err := f.enqueue(ctx, b.msgs); err != nil {
		return 0, err // the batch stays pending: the next look enqueues it
	}
	if f.metrics.Fed != nil {
		f.metrics.Fed(a.ID, len(b.msgs))
	}
	return len(b.msgs), f.store.Enqueued(ctx, a.ID, s.ID, outcome.Pending{At: s.Next, N: len(b.msgs)}, b.next)
}

// enqueuePending enqueues again the batch a feeder left pending (it died,
// or Redis failed it, between recording the batch and clearing its mark).
func (f *Feeder) enqueuePending(ctx context.Context, a Account, s outcome.FeedState) error {
	p := *s.Pending
	b, err := f.rows(ctx, a.ID, s.ID, p.At, p.N, s.Chunks)
	if err != nil {
		return err
	}
	if err := f.enqueue(ctx, b.msgs); err != nil {
		return err
	}
	return f.store.Enqueued(ctx, a.ID, s.ID, p, s.Next)
}

// enqueue enqueues the batch's tasks, several at once. A task that exists
// already (an earlier try of the batch) is no error.
func (f *Feeder) enqueue(ctx context.Context, msgs []*tasks.Message) error {
	const parallel = 8
	errs := make(chan error, parallel)
	next := make(chan *tasks.Message)
	var wg sync.WaitGroup
	for range min(parallel, len(msgs)) {
		wg.Go(func() {
			for m := range next {
				if err := f.enqueueOne(ctx, m); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for _, m := range msgs {
		next <- m
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("feeder: enqueue: %w", err)
	default:
		return nil
	}
}
