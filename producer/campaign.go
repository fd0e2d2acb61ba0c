package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/release"
	"github.com/sendq/sendq/internal/rowpack"
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
	return rowpack.MessageID(campaign, rowpack.Member(ch, to))
}

func validCampaignID(id string) error {
	if id == "" || len(id) > 200 || strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return &tasks.ValidationError{Field: "campaign", Reason: "want 1 to 200 characters without spaces"}
	}
	return nil
}

// StartOptions tunes StartCampaign.
type StartOptions struct {
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
	// Accepted counts the rows this start stored.
	Accepted int
	// Duplicates counts rows skipped because an earlier row has the same
	// recipient, or an earlier start stored it.
	Duplicates int
}

// StartCampaign starts a campaign of msgs (see StartCampaignFrom), which
// must all be valid: an invalid one stops the start before anything is
// stored.
func (p *Producer) StartCampaign(ctx context.Context, id string, msgs []tasks.Message, opt StartOptions) (StartReport, error) {
	for i := range msgs {
		m := msgs[i] // validated on a copy: the start validates its own
		m.ID = "campaign-row"
		if err := m.Validate(); err != nil {
			return StartReport{ID: id}, fmt.Errorf("message %d: %w", i+1, err)
		}
	}
	return p.StartCampaignFrom(ctx, id, func(emit func(Row) error) error {
		for i := range msgs {
			if err := emit(Row{Line: i + 1, Message: msgs[i]}); err != nil {
				return err
			}
		}
		return nil
	}, opt)
}

// RowSource gives a campaign's rows to emit, in order, and returns what
// stopped it: emit's error, its own (a file that cannot be read), or nil at
// the end. ScanCampaign makes one of a file.
type RowSource func(emit func(Row) error) error

// StartCampaignFrom stores a campaign's rows, as they come from rows, for
// the workers' feeder to send at its account's pace (README "Campaigns").
// Each row's message gets its CampaignMessageID (any ID given is replaced),
// and a template without a category becomes a marketing one. A row whose
// recipient stands earlier, or was stored by an earlier start, is a
// duplicate: starting the same campaign again, after a crash half way or
// after it finished, stores only the rows not stored before. Two starts of
// one campaign cannot run at once (ErrCampaignBusy); a cancelled campaign
// cannot start again. Nothing is stored until the first valid row.
func (p *Producer) StartCampaignFrom(ctx context.Context, id string, rows RowSource, opt StartOptions) (StartReport, error) {
	rep := StartReport{ID: id}
	if err := validCampaignID(id); err != nil {
		return rep, err
	}
	a, err := p.accounts.Pick(opt.Account)
	if err != nil {
		return rep, &tasks.ValidationError{Field: "account", Reason: err.Error()}
	}
	rep.Account = a.ID
	s := newRowStore(ctx, p, a.ID, id, opt)
	err = rows(s.add)
	err = errors.Join(err, s.close())
	rep.Accepted, rep.Duplicates = s.stored, s.dups
	return rep, err
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
	c, err := p.outcomes.GetCampaign(ctx, account, id, p.now())
	if err != nil {
		return nil, err
	}
	return c, p.estimate(ctx, c)
}

// estimate sets a running campaign's ETA from its account's budget: the
// account's campaigns share the budget in turn, so the campaign's rate is
// the budget over the campaigns running — or, once it has run a minute,
// its rate over that minute when lower (the account's transactional
// messages take their part first). Without a budget, the ETA stays the
// one of the campaign's recent rate.
func (p *Producer) estimate(ctx context.Context, c *Campaign) error {
	a, ok := p.accounts.Get(c.Account)
	if !ok || a.Budget.IsZero() || c.State != outcome.CampaignRunning || c.Left == 0 {
		return nil
	}
	states, err := p.outcomes.FeedStates(ctx, c.Account)
	if err != nil {
		return err
	}
	running := 1 // this one, and the others that share the budget with it
	for _, s := range states {
		if s.ID != c.ID && s.State == outcome.CampaignRunning && (s.Fed < s.Total || s.Backlog > 0) {
			running++
		}
	}
	rate := float64(time.Second) / float64(a.Budget.Interval()) / float64(running)
	if c.Rate60 > 0 && c.Rate60 < rate {
		rate = c.Rate60
	}
	c.ETA = time.Duration(float64(c.Left) / rate * float64(time.Second))
	return nil
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
