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

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/release"
	"github.com/sendq/sendq/internal/session"
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
	// Now defaults to time.Now.
	Now func() time.Time
}

// Producer validates and enqueues messages, and reads their outcomes.
type Producer struct {
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
	outcomes, err := outcome.New(cfg.Redis, outcome.Config{Retention: cfg.Retention, MaxWait: cfg.MaxWait})
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	sessions, err := session.New(cfg.Redis, session.Config{Windows: cfg.Windows})
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	return &Producer{
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

// prepare fills the defaults and validates.
func (p *Producer) prepare(m *tasks.Message) error {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = p.now()
	}
	return m.Validate()
}

func (p *Producer) enqueue(ctx context.Context, m *tasks.Message) (Receipt, error) {
	r := Receipt{ID: m.ID}
	rec, err := p.outcomes.Get(ctx, m.ID)
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
	state := outcome.Queued
	scheduled, err := p.enqueueTask(ctx, m)
	if scheduled {
		state = outcome.Scheduled
	}
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		r.Duplicate = true
	case err != nil:
		return r, fmt.Errorf("producer: enqueue: %w", err)
	}
	_, cur, err := p.outcomes.Create(ctx, m, state, p.now())
	if err != nil {
		if r.Duplicate {
			return r, fmt.Errorf("producer: %w", err)
		}
		// The task is queued and the worker will write the record.
		r.State = state
		return r, nil
	}
	r.State = cur
	return r, nil
}

// enqueueTask enqueues the task of m, which Validate has accepted (it is
// not validated again): in its lane's queue, under its id, and held until
// NotBefore when that is still ahead, which it reports as scheduled.
func (p *Producer) enqueueTask(ctx context.Context, m *tasks.Message) (scheduled bool, err error) {
	payload, err := tasks.EncodeValidated(m)
	if err != nil {
		return false, err
	}
	opts := []asynq.Option{
		asynq.Queue(keys.Queue(string(m.Channel), m.Campaign != "")),
		asynq.TaskID(m.ID),
		asynq.MaxRetry(keys.TaskMaxRetry),
	}
	if m.NotBefore.After(p.now()) {
		scheduled = true
		opts = append(opts, asynq.ProcessAt(m.NotBefore))
	}
	_, err = p.client.EnqueueContext(ctx, asynq.NewTask(m.Type(), payload), opts...)
	return scheduled, err
}

// Status returns a message's recorded outcome, or an error wrapping
// ErrNotFound.
func (p *Producer) Status(ctx context.Context, id string) (*Outcome, error) {
	return p.outcomes.Get(ctx, id)
}

// RecordInbound tells sendq that a contact wrote on ch (for applications that
// receive Whautomate's webhooks themselves): it opens or refreshes the
// contact's 24-hour window and releases the messages waiting for it. Name the
// contact by id, phone, or both. It returns how many messages it released.
func (p *Producer) RecordInbound(ctx context.Context, ch tasks.Channel, contactID, phone string, at time.Time) (int, error) {
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
	if err := p.sessions.RecordInbound(ctx, ch, contactID, phone, at); err != nil {
		return 0, fmt.Errorf("producer: %w", err)
	}
	n, err := release.All(ctx, p.ins, p.sessions.Waiting(ch, contactID, phone), 2*time.Second, 50*time.Millisecond)
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
