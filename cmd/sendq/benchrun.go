// The two runs bench compares, sendq's chain and a bare asynq handler, on
// the same backlog against the same sandbox.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/worker"
)

func (b *benchRun) message(prefix string, i int) tasks.Message {
	return tasks.Message{ID: fmt.Sprintf("%s-%07d", prefix, i), Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
		To:        tasks.Recipient{ContactID: fmt.Sprintf("%s-%07d", prefix, i)},
		Template:  &tasks.Template{Name: "order_update", Language: "en", Params: []string{"Ada", "#1042", "Tuesday"}},
		CreatedAt: time.Now()}
}

// enqueueAll runs enq for 0..n-1 from 32 goroutines and returns the rate.
func enqueueAll(n int, enq func(i int) error) (float64, error) {
	var next atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := enq(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func (b *benchRun) sendq(ctx context.Context, idle int) (benchResult, error) {
	res := benchResult{name: "sendq chain", totalMsgs: b.n}
	if err := b.reset(ctx); err != nil {
		return res, err
	}
	p, err := producer.New(producer.Config{Redis: b.rdb})
	if err != nil {
		return res, err
	}
	mem0 := usedMemory(ctx, b.rdb)
	created := make([]time.Time, b.n)
	res.enqueueRate, err = enqueueAll(b.n, func(i int) error {
		m := b.message("s", i)
		created[i] = time.Now()
		_, err := p.Send(ctx, m)
		return err
	})
	if err != nil {
		return res, err
	}
	res.memPerQueued = float64(usedMemory(ctx, b.rdb)-mem0) / float64(b.n)

	reg := prometheus.NewRegistry()
	metrics, err := worker.NewMetrics(reg)
	if err != nil {
		return res, err
	}
	w, err := worker.New(worker.Config{
		Redis: b.rdb, API: b.api, Concurrency: b.concurrency,
		Budget:          b.limit, // the account's budget on, as in production, above the rate reached
		Limits:          map[tasks.Channel]ratelimit.Limit{tasks.WhatsApp: b.limit},
		RecipientLimits: map[tasks.Channel]ratelimit.Limit{},
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:         metrics,
	})
	if err != nil {
		return res, err
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	err = b.drain(ctx, &res, "s-", created,
		func() error { go func() { done <- w.Run(wctx) }(); return nil },
		func() error { stop(); return <-done },
		idle, func(i int) (time.Time, error) {
			t := time.Now()
			_, err := p.Send(ctx, b.message("idle-s", i))
			return t, err
		})
	res.slotsMissed = int(counterSum(reg, "sendq_limiter_slots_missed_total"))
	return res, err
}

func (b *benchRun) bare(ctx context.Context, idle int) (benchResult, error) {
	res := benchResult{name: "bare asynq", totalMsgs: b.n}
	if err := b.reset(ctx); err != nil {
		return res, err
	}
	client := asynq.NewClientFromRedisClient(b.rdb)
	mem0 := usedMemory(ctx, b.rdb)
	created := make([]time.Time, b.n)
	enqueue := func(m tasks.Message) error {
		payload, err := tasks.Encode(&m)
		if err != nil {
			return err
		}
		_, err = client.EnqueueContext(ctx, asynq.NewTask(m.Type(), payload), asynq.Queue("bare"), asynq.TaskID(m.ID))
		return err
	}
	var err error
	res.enqueueRate, err = enqueueAll(b.n, func(i int) error {
		created[i] = time.Now()
		return enqueue(b.message("b", i))
	})
	if err != nil {
		return res, err
	}
	res.memPerQueued = float64(usedMemory(ctx, b.rdb)-mem0) / float64(b.n)

	srv := asynq.NewServerFromRedisClient(b.rdb, asynq.Config{
		Concurrency: b.concurrency, Queues: map[string]int{"bare": 1},
		TaskCheckInterval: 10 * time.Millisecond, LogLevel: asynq.ErrorLevel,
		Logger: &quietLogger{},
	})
	handler := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		m, err := tasks.DecodeTask(t.Type(), t.Payload())
		if err != nil {
			return err
		}
		_, err = b.api.Send(ctx, m)
		return err
	})
	err = b.drain(ctx, &res, "b-", created,
		func() error { return srv.Start(handler) },
		func() error { srv.Shutdown(); return nil },
		idle, func(i int) (time.Time, error) {
			t := time.Now()
			return t, enqueue(b.message("idle-b", i))
		})
	return res, err
}

// drain starts the handlers on the backlog of b.n messages, measures the
// time and CPU until the sandbox has them all, then the idle latency over
// idle more sent one by one, stops the handlers and fills in res.
func (b *benchRun) drain(ctx context.Context, res *benchResult, prefix string, created []time.Time,
	start, stop func() error, idle int, send func(i int) (time.Time, error)) error {
	cpu0, rcpu0 := cpuTime(), redisCPU(ctx, b.rdb)
	began := time.Now()
	if err := start(); err != nil {
		return err
	}
	err := b.waitSent(ctx, b.n, 10*time.Minute)
	elapsed := time.Since(began)
	cpu, rcpu := cpuTime()-cpu0, redisCPU(ctx, b.rdb)-rcpu0
	if err == nil {
		res.idle, err = b.idleLatency(ctx, idle, send)
		res.idleP50, res.idleP99 = percentiles(res.idle)
	}
	if serr := stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	res.sendRate = float64(b.n) / elapsed.Seconds()
	res.cpuPer1000 = cpu * 1000 / time.Duration(b.n)
	res.redisCPUPer1000 = rcpu * 1000 / time.Duration(b.n)
	res.p50, res.p99 = b.latencies(prefix, created)
	res.totalSent, res.sentTwice = b.tallySent(prefix)
	return nil
}

// reset empties the database and the sandbox's records between runs.
func (b *benchRun) reset(ctx context.Context) error {
	b.sandbox.Reset()
	return b.rdb.FlushDB(ctx).Err()
}

// waitSent waits until the sandbox has accepted n sends.
func (b *benchRun) waitSent(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for b.sandbox.SentCount() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: only %d of %d sent after %v", b.sandbox.SentCount(), n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// idleLatency sends k messages one at a time to an idle worker and returns
// their latencies from enqueue to the sandbox's receipt.
func (b *benchRun) idleLatency(ctx context.Context, k int, send func(i int) (time.Time, error)) ([]time.Duration, error) {
	var lat []time.Duration
	for i := range k {
		before := b.sandbox.SentCount()
		at, err := send(i)
		if err != nil {
			return nil, err
		}
		if err := b.waitSent(ctx, before+1, 10*time.Second); err != nil {
			return nil, err
		}
		got := b.sandbox.SentSince(before)
		lat = append(lat, got[len(got)-1].At.Sub(at))
	}
	return lat, nil
}

// latencies returns the p50 and p99 from enqueue to receipt of the run's
// messages (ids starting with prefix).
func (b *benchRun) latencies(prefix string, created []time.Time) (time.Duration, time.Duration) {
	var lat []time.Duration
	for _, s := range b.sandbox.Sent() {
		i, err := strconv.Atoi(strings.TrimPrefix(s.Recipient, prefix))
		if err != nil || !strings.HasPrefix(s.Recipient, prefix) || i >= len(created) {
			continue
		}
		lat = append(lat, s.At.Sub(created[i]))
	}
	return percentiles(lat)
}

func (b *benchRun) tallySent(prefix string) (sent, twice int) {
	per := map[string]int{}
	for _, s := range b.sandbox.Sent() {
		if strings.HasPrefix(s.Recipient, prefix) {
			per[s.Recipient]++
		}
	}
	for _, c := range per {
		sent++
		if c > 1 {
			twice++
		}
	}
	return sent, twice
}

// quietLogger drops asynq's logs during a bench.
type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(args ...any) {
	panic(errors.New(fmt.Sprint(args...)))
}
