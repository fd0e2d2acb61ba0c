package outcome

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
)

// Replicated waits up to a second until every write Redis has taken so far
// is on replicas replicas, and returns how many it reached (all asked for
// when replicas is 0, or on Cluster, where WAIT does not apply). WAIT counts
// only the writes of the connection it runs on, and a pooled connection
// need not be the one that wrote: a write of its own just before, on the
// same connection, makes WAIT cover every earlier write.
func (s *Store) Replicated(ctx context.Context, replicas int) (int, error) {
	c, ok := s.rdb.(*redis.Client) // Sentinel or standalone; not Cluster
	if replicas <= 0 || !ok {
		return replicas, nil
	}
	var wait *redis.Cmd
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, keys.ReplicaMark(), 1, time.Minute)
		wait = p.Do(ctx, "WAIT", replicas, time.Second.Milliseconds())
		return nil
	}); err != nil {
		return 0, err
	}
	return wait.Int()
}
