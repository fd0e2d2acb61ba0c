package outcome

import (
	"context"
	"fmt"

	"github.com/sendq/sendq/internal/keys"
)

// HeldSet is the set of a paused campaign's messages that workers set
// aside (Claim's heldMember), for resume or cancel to put back in their
// queues.
type HeldSet struct {
	s        *Store
	key      string
	campaign string
}

// Held returns the set of account's campaign's held messages.
func (s *Store) Held(account, campaign string) HeldSet {
	return HeldSet{s: s, key: keys.Account(account).CampaignHeld(campaign), campaign: campaign}
}

// Members lists the held messages, as Claim named them, in the order they
// were enqueued.
func (h HeldSet) Members(ctx context.Context) ([]string, error) {
	m, err := h.s.rdb.ZRange(ctx, h.key, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("outcome: held messages of %s: %w", h.campaign, err)
	}
	return m, nil
}

// Remove takes member out of the set: it no longer waits for a resume.
func (h HeldSet) Remove(ctx context.Context, member string) error {
	if err := h.s.rdb.ZRem(ctx, h.key, member).Err(); err != nil {
		return fmt.Errorf("outcome: held messages of %s: %w", h.campaign, err)
	}
	return nil
}
