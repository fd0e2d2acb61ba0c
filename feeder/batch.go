package feeder

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/taskq"
	"github.com/sendq/sendq/tasks"
)

// feed feeds up to n rows of campaign s from its cursor: it records them,
// moves the cursor, enqueues their tasks and clears the batch's mark.
func (f *Feeder) feed(ctx context.Context, a Account, s outcome.FeedState, n int) (int, error) {
	b, err := f.rows(ctx, a.ID, s.ID, s.Next, n, s.Chunks)
	if err != nil {
		return 0, err
	}
	if len(b.msgs) == 0 {
		return 0, nil
	}
	now := time.Now()
	fedAt(b.msgs, now)
	if err := f.store.Feed(ctx, a.ID, f.token, s, b.next, b.msgs, now); err != nil {
		return 0, err
	}
	if err := f.enqueue(ctx, b.msgs); err != nil {
		return 0, err // the batch stays pending: the next look enqueues it
	}
	if f.metrics.Fed != nil {
		f.metrics.Fed(a.ID, len(b.msgs))
	}
	return len(b.msgs), f.store.Enqueued(ctx, a.ID, s.ID, outcome.Pending{At: s.Next, N: len(b.msgs)}, b.next)
}

// enqueuePending enqueues again the batch a feeder left pending (it died,
// or Redis failed it, between recording the batch and clearing its mark).
func (f *Feeder) enqueuePending(ctx context.Context, a Account, s outcome.FeedState) error {
	p := *s.Pending
	b, err := f.rows(ctx, a.ID, s.ID, p.At, p.N, s.Chunks)
	if err != nil {
		return err
	}
	fedAt(b.msgs, p.FedAt)
	if err := f.enqueue(ctx, b.msgs); err != nil {
		return err
	}
	return f.store.Enqueued(ctx, a.ID, s.ID, p, s.Next)
}

// fedAt makes the batch's messages created when they were fed: a row's
// default expiry (worker.Config.DefaultExpiry) counts from then, as its
// record's does. A row waiting for its turn is not getting old, and a long
// campaign's last rows must not expire unsent.
func fedAt(msgs []*tasks.Message, at time.Time) {
	for _, m := range msgs {
		m.CreatedAt = at
	}
}

// enqueue enqueues the batch's tasks, several at once. A task that exists
// already (an earlier try of the batch) is no error.
func (f *Feeder) enqueue(ctx context.Context, msgs []*tasks.Message) error {
	const parallel = 8
	errs := make(chan error, parallel)
	next := make(chan *tasks.Message)
	var wg sync.WaitGroup
	for range min(parallel, len(msgs)) {
		wg.Go(func() {
			for m := range next {
				if err := f.enqueueOne(ctx, m); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for _, m := range msgs {
		next <- m
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("feeder: enqueue: %w", err)
	default:
		return nil
	}
}

// enqueueOne enqueues one message's task, held until its NotBefore.
func (f *Feeder) enqueueOne(ctx context.Context, m *tasks.Message) error {
	var at time.Time
	if m.NotBefore.After(time.Now()) {
		at = m.NotBefore
	}
	task, opts, err := taskq.Task(m, at)
	if err != nil {
		return err
	}
	_, err = f.client.EnqueueContext(ctx, task, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}
