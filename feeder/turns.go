package feeder

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/sendq/sendq/internal/outcome"
)

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
