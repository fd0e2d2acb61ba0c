package worker

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A batcher sends the Redis commands of handlers that ask at about the same
// time in one pipeline: one round trip, one write and one read for all of
// them, where each would otherwise take its own. A busy worker is bound by
// those system calls (each message makes two such round trips of its own,
// the claim and the outcome, next to asynq's two), and the busier it is the
// more handlers ask while a pipeline is on its way, so the batches grow with
// the load; an idle worker sends each request alone, at once, with no
// timer to wait for.
//
// There is no goroutine of its own. The first handler to ask when no
// pipeline is on its way sends its batch (leads); handlers that ask
// meanwhile queue, and when the pipeline's answer comes the leader hands the
// queue to the first of them, which sends it all as the next batch. Every
// handler waits for its own commands' answers, whatever happens to its
// context: the commands may have run, and a handler that left early could
// not know.
type batcher struct {
	rdb redis.UniversalClient

	mu     sync.Mutex
	busy   bool       // a pipeline is on its way
	queued []*batchOp // waiting for the next pipeline
}

// maxBatch bounds one pipeline's requests.
const maxBatch = 256

type batchOp struct {
	queue func(p redis.Pipeliner)
	// wake is closed when the op's commands have their answers (done set)
	// or when it is to lead the next batch (done not set).
	wake chan struct{}
	done bool
}

// do queues queue's commands on the next pipeline and returns once they
// have their answers; each command carries its own error. ctx's values (not
// its cancellation) go with the pipeline when this handler sends it.
func (b *batcher) do(ctx context.Context, queue func(p redis.Pipeliner)) {
	op := &batchOp{queue: queue, wake: make(chan struct{})}
	b.mu.Lock()
	b.queued = append(b.queued, op)
	if b.busy {
		b.mu.Unlock()
		<-op.wake
		if op.done {
			return
		}
		b.mu.Lock() // to lead: send the queue as it now stands
	}
	b.busy = true
	n := min(len(b.queued), maxBatch)
	batch := b.queued[:n:n]
	b.queued = b.queued[n:]
	b.mu.Unlock()

	p := b.rdb.Pipeline()
	for _, o := range batch {
		o.queue(p)
	}
	if cmds, err := p.Exec(context.WithoutCancel(ctx)); err != nil {
		failed(cmds, err)
	}

	b.mu.Lock()
	if len(b.queued) > 0 {
		close(b.queued[0].wake) // it leads the next batch
	} else {
		b.busy = false
	}
	b.mu.Unlock()
	for _, o := range batch {
		if o != op {
			o.done = true
			close(o.wake)
		}
	}
}

// failed gives err to the commands that have neither an answer nor an error
// of their own after a pipeline failed with err. go-redis sets a redis
// error on the command it answers, and a write or read error on every
// command, but not a dial error once its retries are spent: commands would
// then look answered, with nothing in them.
func failed(cmds []redis.Cmder, err error) {
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return // a command's own error; the others have their answers
	}
	for _, c := range cmds {
		if c.Err() == nil {
			c.SetErr(err)
		}
	}
}
