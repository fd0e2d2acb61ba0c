package producer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/release"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/internal/taskq"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// Outcome is a message's recorded outcome (the object of `sendq status --json`).
type Outcome = outcome.Record

// State is where a message stands.
type State = outcome.State

// The outcome states.
const (
	StateQueued         = outcome.Queued
	StateScheduled      = outcome.Scheduled
	StateWaitingSession = outcome.WaitingSession
	StateRetrying       = outcome.Retrying
	StateSent           = outcome.Sent
	StateFailed         = outcome.Failed
	StateExpired        = outcome.Expired
	StateCancelled      = outcome.Cancelled
	StateSuppressed     = outcome.Suppressed
)

// States lists every state, unfinished ones first.
var States = outcome.States

// ErrNotFound is returned by Status for an id with no record.
var ErrNotFound = outcome.ErrNotFound

// Config configures a Producer. Zero values mean the documented defaults.
type Config struct {
	// Redis is the connection (required). The Producer does not close it.
	Redis redis.UniversalClient
	// Retention is how long a finished message's record, and so its id, is
	// kept: the same id sent again within it sends nothing. Defaults to 30 days.
	Retention time.Duration
	// MaxWait is how long an unfinished record is kept at most (the longest a
	// message may wait). Defaults to 7 days.
	MaxWait time.Duration
	// Windows are the session windows (for RecordInbound). Defaults to the
	// channels' 24 hours.
	Windows map[tasks.Channel]time.Duration
	// Accounts are the accounts messages may be sent from (a message names
	// one in its Account field, or leaves it empty when there is only one).
	// Each account's budget spaces its messages' entry into the queues,
	// which every account shares: a backlog of one account waits in Redis's
	// schedule, not ahead of other accounts' messages (README "Accounts").
	// Defaults to the one account "default", without a budget.
	Accounts *accounts.Set
	// Lead is how far ahead of its turn under its account's budget a message
	// enters the queue: those due later wait in the schedule, scheduled with
	// reason "budget". Defaults to 1 s.
	Lead time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

// Producer validates and enqueues messages, and reads their outcomes.
type Producer struct {
	accounts *accounts.Set
	admit    *ratelimit.Limiter
	lead     time.Duration
	client   *asynq.Client
	ins      *asynq.Inspector
	outcomes *outcome.Store
	sessions *session.Store
	now      func() time.Time
}

// New returns a Producer.
func New(cfg Config) (*Producer, error) {
	if cfg.Redis == nil {
		return nil, errors.New("producer: Config.Redis is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Accounts == nil {
		cfg.Accounts, _ = accounts.NewSet(accounts.Account{ID: accounts.Default})
	}
	if cfg.Lead == 0 {
		cfg.Lead = time.Second
	}
	admit, err := ratelimit.New(cfg.Redis, ratelimit.Config{Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	outcomes, err := outcome.New(cfg.Redis, outcome.Config{Retention: cfg.Retention, MaxWait: cfg.MaxWait})
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	sessions, err := session.New(cfg.Redis, session.Config{Windows: cfg.Windows})
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	return &Producer{
		accounts: cfg.Accounts,
		admit:    admit,
		lead:     cfg.Lead,
		client:   asynq.NewClientFromRedisClient(cfg.Redis),
		ins:      asynq.NewInspectorFromRedisClient(cfg.Redis),
		outcomes: outcomes,
		sessions: sessions,
		now:      cfg.Now,
	}, nil
}

// Receipt is what Send accepted.
type Receipt struct {
	ID    string
	State State
	// Duplicate: a message with this id was accepted before; nothing new was
	// enqueued and State is the first one's.
	Duplicate bool
}

// Send validates m and enqueues it. An empty ID gets a new unique one; an ID
// seen before (queued, or finished within the retention) enqueues nothing and
// returns the first message's receipt with Duplicate set. Invalid input
// returns a *tasks.ValidationError naming the field, and enqueues nothing.
func (p *Producer) Send(ctx context.Context, m tasks.Message) (Receipt, error) {
	if err := p.prepare(&m); err != nil {
		return Receipt{}, err
	}
	return p.enqueue(ctx, &m)
}

// prepare fills the defaults, the account among them, and validates.
func (p *Producer) prepare(m *tasks.Message) error {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = p.now()
	}
	if err := m.Validate(); err != nil {
		return err
	}
	a, err := p.accounts.Pick(m.Account)
	if err != nil {
		return &tasks.ValidationError{Field: "account", Reason: err.Error()}
	}
	m.Account = a.ID
	return nil
}

func (p *Producer) enqueue(ctx context.Context, m *tasks.Message) (Receipt, error) {
	r := Receipt{ID: m.ID}
	rec, err := p.outcomes.Get(ctx, m.Account, m.ID)
	switch {
	case err == nil && rec.State != outcome.Queued && rec.State != outcome.Scheduled:
		// Taken up by a worker, or finished: the id is spent.
		r.State, r.Duplicate = rec.State, true
		return r, nil
	case err == nil:
		// Accepted before and still waiting: enqueueing again finds its
		// task (or puts back one that was lost). It is a duplicate even if a
		// worker finishes it and asynq deletes the task in between.
		r.Duplicate = true
	case !errors.Is(err, outcome.ErrNotFound):
		return r, fmt.Errorf("producer: %w", err)
	}

	// The task first, then the record: if this process dies in between, the
	// worker writes the record when it takes the task up, and a retry of Send
	// finds the task by its id. The other order could leave a record with no
	// task, which a retry would take for a duplicate: a lost message.
	at, err := p.admitted(ctx, m, 1)
	if err != nil {
		return r, err
	}
	sched, err := p.enqueueTask(ctx, m, at)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		r.Duplicate = true
	case err != nil:
		return r, fmt.Errorf("producer: enqueue: %w", err)
	}
	_, cur, err := p.outcomes.Create(ctx, m, sched, p.now())
	if err != nil {
		if r.Duplicate {
			return r, fmt.Errorf("producer: %w", err)
		}
		// The task is queued and the worker will write the record.
		r.State = outcome.Queued
		if !sched.NotBefore.IsZero() {
			r.State = outcome.Scheduled
		}
		return r, nil
	}
	r.State = cur
	return r, nil
}

// admitted returns when the first of n messages like m (of its account and
// lane) enters the queue: its account's budget spaces them behind the
// lane's earlier messages (ratelimit.Limiter.Admit), each budget interval
// after the one before. A message due later than the lead (NotBefore) keeps
// out of the lane's schedule, which would otherwise make everything sent
// meanwhile wait behind it: it starts at its NotBefore, and a campaign's
// rows are spaced from there in a schedule of the campaign's own.
func (p *Producer) admitted(ctx context.Context, m *tasks.Message, n int) (time.Time, error) {
	a, _ := p.accounts.Get(m.Account)
	lane, from := "t", time.Time{}
	if m.Campaign != "" {
		lane = "b"
	}
	if m.NotBefore.After(p.now().Add(p.lead)) {
		if m.Campaign == "" {
			return m.NotBefore, nil
		}
		lane, from = "c:"+m.Campaign, m.NotBefore
	}
	at, err := p.admit.Admit(ctx, m.Account, lane, a.Budget, n, from)
	if err != nil {
		return time.Time{}, fmt.Errorf("producer: %w", err)
	}
	return at, nil
}

// enqueueTask enqueues the task of m, which Validate has accepted (it is
// not validated again): in its lane's queue, under its account's task id,
// and held until NotBefore, or until at (its turn under its account's
// budget) when that is more than the lead ahead: the schedule it returns.
func (p *Producer) enqueueTask(ctx context.Context, m *tasks.Message, at time.Time) (outcome.Schedule, error) {
	var sched outcome.Schedule
	now := p.now()
	switch {
	case at.Sub(now) > p.lead && at.After(m.NotBefore):
		sched = outcome.Schedule{NotBefore: at, Reason: "budget"}
	case m.NotBefore.After(now):
		sched = outcome.Schedule{NotBefore: m.NotBefore, Reason: "at"}
	}
	task, opts, err := taskq.Task(m, sched.NotBefore)
	if err != nil {
		return sched, err
	}
	_, err = p.client.EnqueueContext(ctx, task, opts...)
	return sched, err
}

// Status returns a message's recorded outcome, or an error wrapping
// ErrNotFound. Message ids are an account's own: Status looks in every
// account and returns the first found (see StatusOf).
func (p *Producer) Status(ctx context.Context, id string) (*Outcome, error) {
	return p.outcomes.Find(ctx, p.accounts.IDs(), id)
}

// StatusOf returns the recorded outcome of account's message id, or an
// error wrapping ErrNotFound.
func (p *Producer) StatusOf(ctx context.Context, account, id string) (*Outcome, error) {
	return p.outcomes.Get(ctx, account, id)
}

// RecordInbound tells sendq that a contact of account ("" for the only
// one) wrote on ch (for applications that receive Whautomate's webhooks
// themselves): it opens or refreshes the contact's 24-hour window with that
// account and releases the messages waiting for it. Name the contact by id,
// phone, or both. It returns how many messages it released.
func (p *Producer) RecordInbound(ctx context.Context, account string, ch tasks.Channel, contactID, phone string, at time.Time) (int, error) {
	a, err := p.accounts.Pick(account)
	if err != nil {
		return 0, &tasks.ValidationError{Field: "account", Reason: err.Error()}
	}
	if !ch.Valid() {
		return 0, &tasks.ValidationError{Field: "channel", Reason: fmt.Sprintf("unknown channel %q", ch)}
	}
	if phone != "" {
		digits, err := tasks.NormalizePhone(phone)
		if err != nil {
			return 0, err
		}
		phone = digits
	}
	if contactID == "" && phone == "" {
		return 0, &tasks.ValidationError{Field: "contact", Reason: "give a contact id or a phone"}
	}
	if err := p.sessions.RecordInbound(ctx, a.ID, ch, contactID, phone, at); err != nil {
		return 0, fmt.Errorf("producer: %w", err)
	}
	n, err := release.All(ctx, p.ins, p.sessions.Waiting(a.ID, ch, contactID, phone), 2*time.Second, 50*time.Millisecond)
	if err != nil {
		return n, fmt.Errorf("producer: %w", err)
	}
	return n, nil
}

// NewID returns a new unique message id: 16 random bytes in hex.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
