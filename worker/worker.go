package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/compliance"
	"github.com/sendq/sendq/feeder"
	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/msglimit"
	"github.com/sendq/sendq/internal/optout"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
)

// API is the part of the Whautomate client the worker uses.
// *whautomate.Client implements it.
type API interface {
	Send(ctx context.Context, m *tasks.Message) (*whautomate.SendResult, error)
	Messages(ctx context.Context, contactID string, page, limit int) (*whautomate.MessagePage, error)
}

// DefaultLimits are the channels' default caps, Meta's figures
// (accounts.DefaultRates; docs/whautomate-api.md).
var DefaultLimits = accounts.DefaultRates()

// DefaultRecipientLimits are the default per-recipient paces: WhatsApp's pair
// limit (one message per 6 s, with a small burst) and Telegram's 1/s per chat
// (accounts.DefaultPaces).
var DefaultRecipientLimits = accounts.DefaultPaces()

// Headroom is how much wider than a limit asks the worker spaces sends on
// it: 1 %. The upstream counts sends as they arrive, and the way there
// (scheduling, the network) moves each arrival by a few milliseconds, so
// sends spaced exactly at the limit now and then put one more than the limit
// into a one-second window at the receiver. At 50/s, 1 % of the 20 ms
// interval absorbs 10 ms of such jitter, for 1 % of the rate.
const Headroom = 0.01

// spaced returns ls with Headroom added to each limit's period.
func spaced(ls map[tasks.Channel]ratelimit.Limit) map[tasks.Channel]ratelimit.Limit {
	out := make(map[tasks.Channel]ratelimit.Limit, len(ls))
	for ch, l := range ls {
		out[ch] = space(l)
	}
	return out
}

// space returns l with Headroom added to its period.
func space(l ratelimit.Limit) ratelimit.Limit {
	if l.Rate > 0 {
		l.Per += time.Duration(float64(l.Per) * Headroom)
	}
	return l
}

// lateness is how late a send may go after its slot on a channel limited to
// l (spaced): what a send may be late before a one-second window at the
// receiver could hold more than the limit and one, which is one interval and
// the headroom's share of the period (30 ms at 50/s), less arrivalJitter.
func lateness(l ratelimit.Limit) time.Duration {
	return l.Interval() + time.Duration(float64(l.Per)*Headroom) - arrivalJitter
}

// arrivalJitter is what lateness leaves for the rest of the way to the
// upstream, where sends are counted: the network and the upstream's own
// intake move arrivals by a few milliseconds more.
const arrivalJitter = 5 * time.Millisecond

// Config configures a Worker. Zero values mean the documented defaults.
type Config struct {
	// Redis is the connection shared with asynq (required). The worker does
	// not close it.
	Redis redis.UniversalClient
	// Accounts are the Whautomate accounts the worker sends for: a message
	// names its own. One Worker serves them all from the same queues; no
	// account's backlog, cool-down or hold delays another's messages
	// (README "Accounts"). Without Accounts, the worker sends for one
	// account made of API, Account, Budget, Limits and RecipientLimits.
	Accounts []Account
	// API sends the messages of the one account (when Accounts is empty).
	API API
	// Account names that one account. Defaults to "default".
	Account string
	// Budget is that account's request budget (see Account.Budget).
	Budget ratelimit.Limit
	// Concurrency is how many messages of one channel a process works on at
	// once; each channel has its own pool so that one channel's backlog never
	// holds up another. Defaults to 50.
	Concurrency int
	// Limits and RecipientLimits are that account's (see Account).
	Limits          map[tasks.Channel]ratelimit.Limit
	RecipientLimits map[tasks.Channel]ratelimit.Limit
	// Windows are the session windows per channel. Defaults to
	// session.DefaultWindows when nil.
	Windows map[tasks.Channel]time.Duration
	// MaxAttempts bounds the API calls that fail transiently before a message
	// is failed. Rate limits, closed windows and configuration errors do not
	// count. Defaults to 10.
	MaxAttempts int
	// FeedLead is how far ahead of their sends campaign rows are fed to the
	// queues: an account's fed, unsent campaign messages are kept near this
	// much of its budget (package feeder). Defaults to 3 s.
	FeedLead time.Duration
	// DefaultExpiry applies to messages sent without one. Defaults to 7 days.
	DefaultExpiry time.Duration
	// Horizon is how far ahead a campaign message may reserve its rate-limit
	// slot; a transactional message may reserve twice as far, which puts it
	// ahead of campaign messages still waiting. While campaigns keep an
	// account at its budget, the account's schedule is reserved this far
	// ahead, and a transactional message waits about this long for its
	// slot. Defaults to 200 ms.
	Horizon time.Duration
	// MaxBlock is the longest a handler waits in place for its channel's
	// rate limit or cool-down; longer waits reschedule the message. Defaults
	// to 10 s.
	MaxBlock time.Duration
	// SendTimeout bounds one API call. Defaults to 15 s.
	SendTimeout time.Duration
	// Hold is how long an account (or a channel of it) stops after a
	// configuration error (401/403, an unknown location) or an account
	// block; then one probe at a time, every Hold, checks whether it is
	// fixed, and the account resumes as soon as one passes. Defaults to 5 s.
	Hold time.Duration
	// Recheck is the longest a message waiting for a session window goes
	// without being looked at again (in case no webhook comes). Defaults to 1 h.
	Recheck time.Duration
	// PollInterval is how often an idle worker looks for new messages.
	// Defaults to 10 ms.
	PollInterval time.Duration
	// ShutdownTimeout is how long Run waits for in-flight sends on shutdown.
	// Defaults to 10 s.
	ShutdownTimeout time.Duration
	// WaitReplicas, when above 0, makes each send lease and each recorded
	// outcome wait until that many replicas have it (Redis WAIT, up to 1 s):
	// a send goes only once its lease is on them, and the worker moves on
	// from an outcome once it is. Redis replicates asynchronously, and a
	// failover can otherwise lose a lease or an outcome the old master
	// acknowledged — its message would then be sent again. For Sentinel
	// set-ups; Redis Cluster ignores it.
	WaitReplicas int
	// Retention of finished outcome records. Defaults to 30 days.
	Retention time.Duration
	// AutoPause stops a campaign whose failure rate passes a threshold.
	AutoPause outcome.AutoPause
	// Keywords are the whole-message keywords of an incoming message that
	// put its sender on the opt-out list or take them off (README
	// "Compliance"). Defaults to compliance.DefaultKeywords() when nil.
	Keywords *compliance.Keywords
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics, when set, receives the worker's measurements.
	Metrics *Metrics
	// Now defaults to time.Now.
	Now func() time.Time
}

// Worker takes messages off the queues and sends them.
type Worker struct {
	cfg      Config
	rdb      redis.UniversalClient
	accts    map[string]*account // by id
	outcomes *outcome.Store      // for the webhook and tests; the chain asks records
	sessions *session.Store      // for the webhook; the chain asks windows
	optouts  *optout.Store       // for the webhook; the chain asks optOuts
	keywords compliance.Keywords // the webhook's opt-out and opt-in keywords
	records  records             // the outcome store, as the send chain asks it
	windows  windows             // the session store, as the send chain asks it
	slots    slots               // the rate limiter
	optOuts  optOuts             // the opt-out list, as the send chain asks it
	limits   msgLimits           // the messaging-limit count
	batch    *batcher            // the claims and outcomes of handlers
	feeder   *feeder.Feeder      // feeds the accounts' campaigns
	ins      *asynq.Inspector
	log      *slog.Logger
	m        *Metrics
	now      func() time.Time
}

// withDefaults checks cfg and fills in the documented defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Redis == nil {
		return cfg, errors.New("worker: Config.Redis is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if cfg.Account == "" {
		cfg.Account = "default"
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 50
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 10
	}
	def(&cfg.DefaultExpiry, 7*24*time.Hour)
	def(&cfg.Horizon, 200*time.Millisecond)
	def(&cfg.MaxBlock, 10*time.Second)
	def(&cfg.SendTimeout, 15*time.Second)
	def(&cfg.Hold, 5*time.Second)
	def(&cfg.Recheck, time.Hour)
	def(&cfg.PollInterval, 10*time.Millisecond)
	def(&cfg.ShutdownTimeout, 10*time.Second)
	if cfg.MaxAttempts > keys.TaskMaxRetry-5 {
		return cfg, fmt.Errorf("worker: MaxAttempts %d is over %d", cfg.MaxAttempts, keys.TaskMaxRetry-5)
	}
	if cfg.Concurrency < 0 || cfg.MaxAttempts < 0 || cfg.DefaultExpiry < 0 || cfg.MaxBlock < 0 || cfg.Horizon < 0 ||
		cfg.SendTimeout < 0 || cfg.Hold < 0 || cfg.Recheck < 0 || cfg.PollInterval < 0 || cfg.ShutdownTimeout < 0 {
		return cfg, errors.New("worker: negative value in Config")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Keywords == nil {
		k := compliance.DefaultKeywords()
		cfg.Keywords = &k
	}
	return cfg, nil
}

// New checks cfg and returns a Worker.
func New(cfg Config) (*Worker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	outcomes, err := outcome.New(cfg.Redis, outcome.Config{Retention: cfg.Retention, MaxWait: cfg.DefaultExpiry, AutoPause: cfg.AutoPause})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	sessions, err := session.New(cfg.Redis, session.Config{Windows: cfg.Windows})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	limiter, err := ratelimit.New(cfg.Redis, ratelimit.Config{MaxWait: cfg.Horizon, Now: cfg.Now, ProbeLease: cfg.SendTimeout + time.Second})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	optouts, err := optout.New(cfg.Redis, optout.Config{})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	limits, err := msglimit.New(cfg.Redis, msglimit.Config{})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	accts, err := cfg.accounts()
	if err != nil {
		return nil, err
	}
	fc := feeder.Config{Redis: cfg.Redis, Retention: cfg.Retention, MaxWait: cfg.DefaultExpiry, Logger: cfg.Logger, Lead: cfg.FeedLead}
	for id, a := range accts {
		fc.Accounts = append(fc.Accounts, feeder.Account{ID: id, Budget: a.budget})
	}
	fd, err := feeder.New(fc, feeder.Metrics{Fed: cfg.Metrics.campaignFed})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	return &Worker{
		feeder:   fd,
		cfg:      cfg,
		rdb:      cfg.Redis,
		accts:    accts,
		outcomes: outcomes,
		sessions: sessions,
		records:  outcomes,
		windows:  sessions,
		slots:    limiter,
		optouts:  optouts,
		optOuts:  optouts,
		limits:   limits,
		keywords: *cfg.Keywords,
		batch:    &batcher{rdb: cfg.Redis},
		ins:      asynq.NewInspectorFromRedisClient(cfg.Redis),
		log:      cfg.Logger,
		m:        cfg.Metrics,
		now:      cfg.Now,
	}, nil
}

// Run works until ctx is done, then stops taking messages, lets in-flight
// sends finish for up to ShutdownTimeout, and returns.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.rdb.Ping(ctx).Err(); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started
		}
		return fmt.Errorf("worker: redis: %w", err)
	}
	// One handler for every type: it decodes and checks the type itself, so
	// that an unknown or malformed task is failed on record, not left to
	// asynq's "handler not found" retries.
	handler := asynq.HandlerFunc(w.handle)
	var servers []*asynq.Server
	for _, ch := range tasks.Channels {
		srv := asynq.NewServerFromRedisClient(w.rdb, asynq.Config{
			Concurrency: w.cfg.Concurrency,
			// Transactional messages first; campaign messages when none wait.
			Queues:                   map[string]int{keys.Queue(string(ch), false): 2, keys.Queue(string(ch), true): 1},
			StrictPriority:           true,
			RetryDelayFunc:           retryDelay,
			IsFailure:                isFailure,
			ShutdownTimeout:          w.cfg.ShutdownTimeout,
			TaskCheckInterval:        w.cfg.PollInterval,
			DelayedTaskCheckInterval: 250 * time.Millisecond,
			Logger:                   newAsynqLogger(w.log.With("channel", string(ch))),
			LogLevel:                 asynq.WarnLevel,
			BaseContext:              func() context.Context { return context.WithoutCancel(ctx) },
		})
		if err := srv.Start(handler); err != nil {
			for _, s := range servers {
				s.Shutdown()
			}
			return fmt.Errorf("worker: start %s: %w", ch, err)
		}
		servers = append(servers, srv)
	}
	var feeding sync.WaitGroup
	feeding.Go(func() { _ = w.feeder.Run(ctx) })
	w.log.Info("worker started", "accounts", len(w.accts), "concurrency_per_channel", w.cfg.Concurrency)
	<-ctx.Done()
	feeding.Wait() // no more campaign rows fed before the servers stop
	w.log.Info("worker stopping", "shutdown_timeout", w.cfg.ShutdownTimeout)
	var wg sync.WaitGroup
	for _, s := range servers {
		s.Stop() // take no new messages anywhere before waiting on any
	}
	for _, s := range servers {
		wg.Go(s.Shutdown)
	}
	wg.Wait()
	w.log.Info("worker stopped")
	return nil
}
