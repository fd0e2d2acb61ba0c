package producer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/session"
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
}

// StartReport tells what a start did.
type StartReport struct {
	ID string
	// Accepted counts the messages this start enqueued.
	Accepted int
	// Duplicates counts messages skipped because an earlier row has the same
	// recipient, or an earlier start enqueued them.
	Duplicates int
}

// StartCampaign enqueues a campaign's messages in the bulk lane. Each message
// gets its CampaignMessageID (any ID given is replaced) and must be valid
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
	now := p.now()
	seen := make(map[string]bool, len(msgs))
	batch := make([]*tasks.Message, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		m.Campaign = id
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
	if err := p.outcomes.LockCampaign(ctx, id, token, 30*time.Second); err != nil {
		return rep, err
	}
	defer p.outcomes.UnlockCampaign(context.WithoutCancel(ctx), id, token)
	stopRefresh := p.refreshLock(ctx, id, token)
	defer stopRefresh()
	if err := p.outcomes.OpenCampaign(ctx, id, now); err != nil {
		return rep, err
	}
	if err := p.outcomes.Load(ctx); err != nil {
		return rep, err
	}

	const chunk = 2000
	for start := 0; start < len(batch); start += chunk {
		part := batch[start:min(start+chunk, len(batch))]
		acc, dup, err := p.enqueueChunk(ctx, part, opt.Workers)
		rep.Accepted += acc
		rep.Duplicates += dup
		if err != nil {
			return rep, err
		}
		if opt.Progress != nil {
			opt.Progress(rep.Duplicates + rep.Accepted)
		}
	}
	if err := p.outcomes.CampaignEnqueued(ctx, id); err != nil {
		return rep, err
	}
	return rep, nil
}

// refreshLock keeps the campaign lock while the start runs.
func (p *Producer) refreshLock(ctx context.Context, id, token string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = p.outcomes.LockCampaign(ctx, id, token, 30*time.Second)
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// enqueueChunk enqueues the messages of part that have no record yet: the
// tasks in parallel, then their records in one pipeline.
func (p *Producer) enqueueChunk(ctx context.Context, part []*tasks.Message, workers int) (accepted, duplicates int, err error) {
	exists := make([]*redis.IntCmd, len(part))
	if _, err := p.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, m := range part {
			exists[i] = pl.Exists(ctx, keys.Outcome(m.ID))
		}
		return nil
	}); err != nil {
		return 0, 0, fmt.Errorf("producer: %w", err)
	}
	todo := make([]*tasks.Message, 0, len(part))
	for i, m := range part {
		if exists[i].Val() == 1 {
			duplicates++
			continue
		}
		todo = append(todo, m)
	}

	// Tasks first (see enqueue), in parallel: asynq has no batch enqueue.
	errs := make([]error, len(todo))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(todo)) {
		wg.Go(func() {
			for i := range next {
				errs[i] = p.enqueueTask(ctx, todo[i])
			}
		})
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()

	var firstErr error
	_, perr := p.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, m := range todo {
			switch {
			case errs[i] == nil:
				accepted++
			case errors.Is(errs[i], asynq.ErrTaskIDConflict):
				// Enqueued by an earlier start that died before its record.
				duplicates++
			default:
				if firstErr == nil {
					firstErr = errs[i]
				}
				continue
			}
			p.outcomes.CreateCmd(ctx, pl, m, outcome.Queued, p.now())
		}
		return nil
	})
	if perr != nil && firstErr == nil {
		// The tasks are queued; workers write the records they find missing.
		firstErr = fmt.Errorf("producer: records: %w", perr)
	}
	return accepted, duplicates, firstErr
}

func (p *Producer) enqueueTask(ctx context.Context, m *tasks.Message) error {
	payload, err := tasks.Encode(m)
	if err != nil {
		return err
	}
	opts := []asynq.Option{
		asynq.Queue(keys.Queue(string(m.Channel), true)),
		asynq.TaskID(m.ID),
		asynq.MaxRetry(keys.TaskMaxRetry),
	}
	if m.NotBefore.After(p.now()) {
		opts = append(opts, asynq.ProcessAt(m.NotBefore))
	}
	_, err = p.client.EnqueueContext(ctx, asynq.NewTask(m.Type(), payload), opts...)
	return err
}

// CampaignStatus reports a campaign.
func (p *Producer) CampaignStatus(ctx context.Context, id string) (*Campaign, error) {
	return p.outcomes.GetCampaign(ctx, id, p.now())
}

// PauseCampaign holds a campaign's unsent messages: from its return on, no
// worker starts sending one (sends already under way finish).
func (p *Producer) PauseCampaign(ctx context.Context, id string) error {
	prev, err := p.outcomes.SetCampaignState(ctx, id, outcome.CampaignPausedSt)
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
	prev, err := p.outcomes.SetCampaignState(ctx, id, outcome.CampaignRunning)
	if err != nil {
		return err
	}
	if prev == outcome.CampaignCancelled {
		return fmt.Errorf("campaign %q: %w", id, ErrCampaignCancelled)
	}
	return p.releaseHeld(ctx, id)
}

func (p *Producer) releaseHeld(ctx context.Context, id string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, busy, err := session.ReleaseSets(ctx, p.rdb, p.ins, keys.CampaignHeld(id))
		if err != nil || len(busy) == 0 || time.Now().After(deadline) {
			return err
		}
		if err := pause(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// CancelCampaign cancels a campaign. When it returns, no message of the
// campaign is being sent or will be, and every unsent one reads cancelled.
func (p *Producer) CancelCampaign(ctx context.Context, id string) error {
	if _, err := p.outcomes.CancelCampaign(ctx, id); err != nil {
		return err
	}
	// Sends that had started before the cancel finish (or their leases end);
	// wait for them so that "nothing is sent after cancel returns" holds.
	for {
		n, err := p.outcomes.InflightCampaign(ctx, id, time.Now())
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
	return p.releaseHeld(ctx, id)
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
