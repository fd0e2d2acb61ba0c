package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/tasks"
)

// enqueueAll enqueues the messages that have no record yet, as a pipeline of
// three stages running at once: look up which exist (a Redis pipeline per
// chunk), enqueue the tasks (workers in parallel: asynq has no batch
// enqueue), and write the records of the enqueued ones (a Redis pipeline per
// chunk). A task is always enqueued before its record (see enqueue).
func (p *Producer) enqueueAll(ctx context.Context, msgs []*tasks.Message, opt StartOptions) (accepted, duplicates int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := &bulkEnqueue{p: p, ctx: ctx, cancel: cancel}
	todo := b.unrecorded(msgs)
	done := b.enqueueTasks(todo, opt.Workers)
	accepted, duplicates = b.record(done, opt.Progress)
	return accepted, duplicates + int(b.skipped.Load()), b.firstErr()
}

// bulkChunk is how many messages a campaign start looks up, or records, in
// one round trip.
const bulkChunk = 500

// bulkEnqueue is one run of enqueueAll: its stages share a context that the
// first failure cancels.
type bulkEnqueue struct {
	p       *Producer
	ctx     context.Context
	cancel  context.CancelFunc
	skipped atomic.Int64 // messages with a record already (an earlier start)

	mu  sync.Mutex
	err error // the first failure
}

// admitted is a message with no record, and when it enters the queue
// (Producer.admitted).
type admitted struct {
	m  *tasks.Message
	at time.Time
}

// enqueued is a message whose task stage 2 enqueued, or failed to.
type enqueued struct {
	m   *tasks.Message
	err error
}

// fail notes err, if it is the first failure, and stops every stage.
func (b *bulkEnqueue) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
		b.cancel()
	}
}

func (b *bulkEnqueue) firstErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// unrecorded is stage 1: it passes on the messages that have no record,
// looking them up a chunk at a time, with their turns under the account's
// budget, and counts the others as skipped.
func (b *bulkEnqueue) unrecorded(msgs []*tasks.Message) <-chan admitted {
	todo := make(chan admitted, 4*bulkChunk)
	go func() {
		defer close(todo)
		for start := 0; start < len(msgs); start += bulkChunk {
			part := msgs[start:min(start+bulkChunk, len(msgs))]
			ids := make([]string, len(part))
			for i, m := range part {
				ids[i] = m.ID
			}
			recorded, err := b.p.outcomes.Recorded(b.ctx, part[0].Account, ids)
			if err != nil {
				b.fail(fmt.Errorf("producer: %w", err))
				return
			}
			var fresh []*tasks.Message
			for i, m := range part {
				if recorded[i] {
					b.skipped.Add(1)
					continue
				}
				fresh = append(fresh, m)
			}
			if len(fresh) == 0 {
				continue
			}
			at, err := b.p.admitted(b.ctx, fresh[0], len(fresh))
			if err != nil {
				b.fail(err)
				return
			}
			a, _ := b.p.accounts.Get(fresh[0].Account)
			for i, m := range fresh {
				turn := at
				if !a.Budget.IsZero() {
					turn = at.Add(time.Duration(i) * a.Budget.Interval())
				}
				select {
				case todo <- admitted{m, turn}:
				case <-b.ctx.Done():
					return
				}
			}
		}
	}()
	return todo
}

// enqueueTasks is stage 2: workers enqueue the tasks in parallel and pass
// each message on with the result.
func (b *bulkEnqueue) enqueueTasks(todo <-chan admitted, workers int) <-chan enqueued {
	done := make(chan enqueued, 4*bulkChunk)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for a := range todo {
				_, err := b.p.enqueueTask(b.ctx, a.m, a.at)
				done <- enqueued{a.m, err}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

// record is stage 3: it writes the records of the enqueued messages, a
// chunk at a time, and counts them; progress, when set, hears of every
// chunk.
func (b *bulkEnqueue) record(done <-chan enqueued, progress func(done int)) (accepted, duplicates int) {
	batch := make([]*tasks.Message, 0, bulkChunk)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if _, err := b.p.outcomes.CreateCampaign(b.ctx, batch[0].Campaign, batch, outcome.Queued, b.p.now()); err != nil {
			// The tasks are queued; workers write the records they find missing.
			b.fail(fmt.Errorf("producer: records: %w", err))
		}
		batch = batch[:0]
		if progress != nil {
			progress(accepted + duplicates + int(b.skipped.Load()))
		}
	}
	for r := range done {
		switch {
		case r.err == nil:
			accepted++
		case errors.Is(r.err, asynq.ErrTaskIDConflict):
			duplicates++ // enqueued by an earlier start that died before its record
		default:
			b.fail(r.err)
			continue
		}
		if batch = append(batch, r.m); len(batch) == bulkChunk {
			flush()
		}
	}
	flush()
	return accepted, duplicates
}
