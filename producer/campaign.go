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
