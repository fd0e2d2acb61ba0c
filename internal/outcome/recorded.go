package outcome

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
)

// Recorded reports, for each of account's ids in order, whether the message has a
// record (was accepted before and is within its retention), in one round
// trip.
func (s *Store) Recorded(ctx context.Context, account string, ids []string) ([]bool, error) {
	space := keys.Account(account)
	p := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		cmds[i] = p.Exists(ctx, space.Outcome(id))
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("outcome: recorded: %w", err)
	}
	found := make([]bool, len(ids))
	for i, c := range cmds {
		found[i] = c.Val() == 1
	}
	return found, nil
}
