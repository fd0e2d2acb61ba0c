package worker

import (
	"context"
	"fmt"
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
// is on cfg.WaitReplicas replicas, and returns how many it reached (see
// outcome.Store.Replicated).
func (w *Worker) replicated(ctx context.Context) (int, error) {
	return w.outcomes.Replicated(ctx, w.cfg.WaitReplicas)
}
