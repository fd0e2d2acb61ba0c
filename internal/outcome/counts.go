package outcome

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sendq/sendq/internal/keys"
)

// Counts returns how many of account's messages on record are in each
// state, over all campaigns and none. A state no message has reached is
// absent.
func (s *Store) Counts(ctx context.Context, account string) (map[State]int64, error) {
	h, err := s.rdb.HGetAll(ctx, keys.Account(account).Counts()).Result()
	if err != nil {
		return nil, fmt.Errorf("outcome: counts: %w", err)
	}
	counts := make(map[State]int64, len(h))
	for st, v := range h {
		n, _ := strconv.ParseInt(v, 10, 64)
		counts[State(st)] = n
	}
	return counts, nil
}
