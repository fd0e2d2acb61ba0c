package producer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/hibiken/asynq"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/release"
	"github.com/sendq/sendq/tasks"
)

// Campaign is a campaign's report (`sendq campaign status`).
type Campaign = outcome.Campaign

// CampaignState is where a campaign stands.
type CampaignState = outcome.CampaignState

// Campaign errors callers branch on.
var (
	ErrCampaignCancelled = outcome.ErrCampaignCancelled
	ErrCampaignBusy      = outcome.ErrCampaignBusy
)

// CampaignMessageID is the id of a campaign's message to a recipient on a
// channel: the same row always gets the same id, so a campaign started again
// sends no one twice.
func CampaignMessageID(campaign string, ch tasks.Channel, to tasks.Recipient) string {
	sum := sha256.Sum256([]byte(string(ch) + "\x00" + to.Key()))
	return campaign + ":" + hex.EncodeToString(sum[:10])
}

func validCampaignID(id string) error {
	if id == "" || len(id) > 200 || strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return &tasks.ValidationError{Field: "campaign", Reason: "want 1 to 200 characters without spaces"}
	}
	return nil
}

// StartOptions tunes StartCampaign.
type StartOptions struct {
	// Workers is how many enqueues run at once. Defaults to 32.
	Workers int
	// Progress, when set, is called now and then with the rows handled so far.
	Progress func(done int)
	// WaitLock is how long to wait for another start of the same campaign
	// to end (or, if it died, for its lock to lapse, within lockTTL) before
	// giving up with ErrCampaignBusy. Zero gives up at once.
	WaitLock time.Duration
	// Account sends the campaign ("" for the only one). A campaign is one
	// account's; campaign ids are unique across accounts.
	Account string
}

// lockTTL is how long a start's lock outlives its last refresh: a start that
// dies frees the campaign this long after.
const lockTTL = 10 * time.Second

// lockCampaign takes the campaign's lock, waiting up to wait for it.
func (p *Producer) lockCampaign(ctx context.Context, account, id, token string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := p.outcomes.LockCampaign(ctx, account, id, token, lockTTL)
		if !errors.Is(err, ErrCampaignBusy) || time.Now().After(deadline) {
			return err
		}
		if err := pause(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// StartReport tells what a start did.
type StartReport struct {
	ID      string
	Account string
	// Accepted counts the messages this start enqueued.
	Accepted int
	// Duplicates counts messages skipped because an earlier row has the same
	// recipient, or an earlier start enqueued them.
	Duplicates int
}

// StartCampaign enqueues a campaign's messages in the bulk lane. Each message
// gets its CampaignMessageID (any ID given is replaced), a template without a
// category becomes a marketing one, and each must be valid
// (validate rows first: an invalid one stops the start). Starting the same
// campaign again, after a crash half way or after it finished, enqueues only
// the messages not enqueued before. Two starts of one campaign cannot run at
// once (ErrCampaignBusy); a cancelled campaign cannot start again.
func (p *Producer) StartCampaign(ctx context.Context, id string, msgs []tasks.Message, opt StartOptions) (StartReport, error) {
	rep := StartReport{ID: id}
	if err := validCampaignID(id); err != nil {
		return rep, err
	}
	if opt.Workers <= 0 {
		opt.Workers = 32
	}
	a, err := p.accounts.Pick(opt.Account)
	if err != nil {
		return rep, &tasks.ValidationError{Field: "account", Reason: err.Error()}
	}
	rep.Account = a.ID
	now := p.now()
	seen := make(map[string]bool, len(msgs))
	batch := make([]*tasks.Message, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		m.Campaign, m.Account = id, a.ID
		if m.Template != nil && m.Template.Category == "" {
			m.Template.Category = tasks.Marketing
		}
		m.ID = "campaign-row" // the real id needs the normalised recipient
		if m.CreatedAt.IsZero() {
			m.CreatedAt = now
		}
		if err := m.Validate(); err != nil {
			return rep, fmt.Errorf("message %d: %w", i+1, err)
		}
		m.ID = CampaignMessageID(id, m.Channel, m.To)
		if seen[m.ID] {
			rep.Duplicates++
			continue
		}
		seen[m.ID] = true
		batch = append(batch, m)
	}

	token := NewID()
	if err := p.lockCampaign(ctx, a.ID, id, token, opt.WaitLock); err != nil {
		return rep, err
	}
	defer p.outcomes.UnlockCampaign(context.WithoutCancel(ctx), a.ID, id, token)
	stopRefresh := p.refreshLock(ctx, a.ID, id, token)
	defer stopRefresh()
	if err := p.outcomes.OpenCampaign(ctx, a.ID, id, now); err != nil {
		return rep, err
	}

	acc, dup, err := p.enqueueAll(ctx, batch, opt)
	rep.Accepted += acc
	rep.Duplicates += dup
	if err != nil {
		return rep, err
	}
	if err := p.outcomes.CampaignEnqueued(ctx, a.ID, id); err != nil {
		return rep, err
	}
	return rep, nil
}

// refreshLock keeps the campaign lock while the start runs.
func (p *Producer) refreshLock(ctx context.Context, account, id, token string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(lockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = p.outcomes.LockCampaign(ctx, account, id, token, lockTTL)
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// enqueueAll enqueues the messages that have no record yet, as a pipeline of
// three stages running at once: look up which exist (a Redis pipeline per
// chunk), enqueue the tasks (workers in parallel: asynq has no batch
// enqueue), and write the records of the enqueued ones (a Redis pipeline per
// chunk). A task is always enqueued before its record (see enqueue).
func (p *Producer) enqueueAll(ctx context.Context, msgs []*tasks.Message, opt StartOptions) (accepted, duplicates int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := &bulkEnqueue{p: p, ctx: ctx, cancel: cancel}
	todo := b.unrecorded(msgs)
	done := b.enqueueTasks(todo, opt.Workers)
	accepted, duplicates = b.record(done, opt.Progress)
	return accepted, duplicates + int(b.skipped.Load()), b.firstErr()
}

// bulkChunk is how many messages a campaign start looks up, or records, in
// one round trip.
const bulkChunk = 500

// bulkEnqueue is one run of enqueueAll: its stages share a context that the
// first failure cancels.
type bulkEnqueue struct {
	p       *Producer
	ctx     context.Context
	cancel  context.CancelFunc
	skipped atomic.Int64 // messages with a record already (an earlier start)

	mu  sync.Mutex
	err error // the first failure
}

// admitted is a message with no record, and when it enters the queue
// (Producer.admitted).
type admitted struct {
	m  *tasks.Message
	at time.Time
}

// enqueued is a message whose task stage 2 enqueued, or failed to.
type enqueued struct {
	m   *tasks.Message
	err error
}

// fail notes err, if it is the first failure, and stops every stage.
func (b *bulkEnqueue) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
		b.cancel()
	}
}

func (b *bulkEnqueue) firstErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// unrecorded is stage 1: it passes on the messages that have no record,
// looking them up a chunk at a time, with their turns under the account's
// budget, and counts the others as skipped.
func (b *bulkEnqueue) unrecorded(msgs []*tasks.Message) <-chan admitted {
	todo := make(chan admitted, 4*bulkChunk)
	go func() {
		defer close(todo)
		for start := 0; start < len(msgs); start += bulkChunk {
			part := msgs[start:min(start+bulkChunk, len(msgs))]
			ids := make([]string, len(part))
			for i, m := range part {
				ids[i] = m.ID
			}
			recorded, err := b.p.outcomes.Recorded(b.ctx, part[0].Account, ids)
			if err != nil {
				b.fail(fmt.Errorf("producer: %w", err))
				return
			}
			var fresh []*tasks.Message
			for i, m := range part {
				if recorded[i] {
					b.skipped.Add(1)
					continue
				}
				fresh = append(fresh, m)
			}
			if len(fresh) == 0 {
				continue
			}
			at, err := b.p.admitted(b.ctx, fresh[0], len(fresh))
			if err != nil {
				b.fail(err)
				return
			}
			a, _ := b.p.accounts.Get(fresh[0].Account)
			for i, m := range fresh {
				turn := at
				if !a.Budget.IsZero() {
					turn = at.Add(time.Duration(i) * a.Budget.Interval())
				}
				select {
				case todo <- admitted{m, turn}:
				case <-b.ctx.Done():
					return
				}
			}
		}
	}()
	return todo
}

// enqueueTasks is stage 2: workers enqueue the tasks in parallel and pass
// each message on with the result.
func (b *bulkEnqueue) enqueueTasks(todo <-chan admitted, workers int) <-chan enqueued {
	done := make(chan enqueued, 4*bulkChunk)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for a := range todo {
				_, err := b.p.enqueueTask(b.ctx, a.m, a.at)
				done <- enqueued{a.m, err}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

// record is stage 3: it writes the records of the enqueued messages, a
// chunk at a time, and counts them; progress, when set, hears of every
// chunk.
func (b *bulkEnqueue) record(done <-chan enqueued, progress func(done int)) (accepted, duplicates int) {
	batch := make([]*tasks.Message, 0, bulkChunk)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if _, err := b.p.outcomes.CreateCampaign(b.ctx, batch[0].Campaign, batch, outcome.Queued, b.p.now()); err != nil {
			// The tasks are queued; workers write the records they find missing.
			b.fail(fmt.Errorf("producer: records: %w", err))
		}
		batch = batch[:0]
		if progress != nil {
			progress(accepted + duplicates + int(b.skipped.Load()))
		}
	}
	for r := range done {
		switch {
		case r.err == nil:
			accepted++
		case errors.Is(r.err, asynq.ErrTaskIDConflict):
			duplicates++ // enqueued by an earlier start that died before its record
		default:
			b.fail(r.err)
			continue
		}
		if batch = append(batch, r.m); len(batch) == bulkChunk {
			flush()
		}
	}
	flush()
	return accepted, duplicates
}

// CampaignStatus reports a campaign.
func (p *Producer) CampaignStatus(ctx context.Context, id string) (*Campaign, error) {
	account, err := p.outcomes.CampaignAccount(ctx, id)
	if err != nil {
		return nil, err
	}
	return p.outcomes.GetCampaign(ctx, account, id, p.now())
}

// PauseCampaign holds a campaign's unsent messages: from its return on, no
// worker starts sending one (sends already under way finish).
func (p *Producer) PauseCampaign(ctx context.Context, id string) error {
	account, err := p.outcomes.CampaignAccount(ctx, id)
	if err != nil {
		return err
	}
	prev, err := p.outcomes.SetCampaignState(ctx, account, id, outcome.CampaignPausedSt)
	if err != nil {
		return err
	}
	if prev == outcome.CampaignCancelled {
		return fmt.Errorf("campaign %q: %w", id, ErrCampaignCancelled)
	}
	return nil
}

// ResumeCampaign releases a paused (or auto-paused) campaign: the messages
// workers set aside go back to their queues, in order.
func (p *Producer) ResumeCampaign(ctx context.Context, id string) error {
	account, err := p.outcomes.CampaignAccount(ctx, id)
	if err != nil {
		return err
	}
	prev, err := p.outcomes.SetCampaignState(ctx, account, id, outcome.CampaignRunning)
	if err != nil {
		return err
	}
	if prev == outcome.CampaignCancelled {
		return fmt.Errorf("campaign %q: %w", id, ErrCampaignCancelled)
	}
	return p.releaseHeld(ctx, account, id)
}

// releaseHeld puts the messages workers set aside while the campaign was
// paused back in their queues, waiting a little for those still being set
// aside.
func (p *Producer) releaseHeld(ctx context.Context, account, id string) error {
	_, err := release.All(ctx, p.ins, p.outcomes.Held(account, id), 5*time.Second, 20*time.Millisecond)
	return err
}

// CancelCampaign cancels a campaign. When it returns, no message of the
// campaign is being sent or will be, and every unsent one reads cancelled.
func (p *Producer) CancelCampaign(ctx context.Context, id string) error {
	account, err := p.outcomes.CampaignAccount(ctx, id)
	if err != nil {
		return err
	}
	if _, err := p.outcomes.CancelCampaign(ctx, account, id); err != nil {
		return err
	}
	// Sends that had started before the cancel finish (or their leases end);
	// wait for them so that "nothing is sent after cancel returns" holds.
	for {
		n, err := p.outcomes.InflightCampaign(ctx, account, id, time.Now())
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if err := pause(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	// Held messages go back to the queue, where workers drop them quickly.
	return p.releaseHeld(ctx, account, id)
}

// pause waits d or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
