package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
)

// awaitReplicas is the stage that keeps the lease safe from a failover. The
// lease is the guard against a second send: with WaitReplicas it must be on
// the replicas before the call, or a failover could promote a replica
// without it and let another run send the message again. It is waited for
// here, before the wait for a slot, so that the round trip does not make
// the send late.
func (j *job) awaitReplicas(ctx context.Context) error {
	if got, err := j.w.replicated(ctx); err != nil || got < j.w.cfg.WaitReplicas {
		if err == nil {
			err = fmt.Errorf("the send lease reached %d of %d replicas", got, j.w.cfg.WaitReplicas)
		}
		return j.release(ctx, err)
	}
	return nil
}

// replicated waits up to a second until every write Redis has taken so far
// is on cfg.WaitReplicas replicas, and returns how many it reached (all
// asked for when WaitReplicas is 0, or on Cluster, where WAIT does not
// apply). WAIT counts only the writes of the connection it runs on, and a
// pooled connection need not be the one that wrote: a write of its own just
// before, on the same connection, makes WAIT cover every earlier write.
func (w *Worker) replicated(ctx context.Context) (int, error) {
	n := w.cfg.WaitReplicas
	c, ok := w.rdb.(*redis.Client) // Sentinel or standalone; not Cluster
	if n <= 0 || !ok {
		return n, nil
	}
	var wait *redis.Cmd
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, keys.ReplicaMark(), 1, time.Minute)
		wait = p.Do(ctx, "WAIT", n, time.Second.Milliseconds())
		return nil
	}); err != nil {
		return 0, err
	}
	return wait.Int()
}
