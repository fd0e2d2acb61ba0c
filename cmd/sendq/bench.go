package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
	"github.com/sendq/sendq/worker"
)

// bench measures sendq against the in-process sandbox, next to a bare asynq
// handler that only makes the same HTTP call: enqueue rate, send rate,
// enqueue-to-send latency (under load and idle), CPU per 1,000 messages and
// Redis memory per queued message.
func (a *app) bench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 20000, "messages per run")
	latency := fs.Duration("latency", 20*time.Millisecond, "the sandbox's answer latency")
	concurrency := fs.Int("concurrency", 200, "handlers per worker")
	limit := fs.String("limit", "1000000/s", "the channel's rate limit during the sendq run (above the achieved rate: the limiter is on, not binding)")
	idle := fs.Int("idle", 200, "messages sent one by one to an idle worker, for the idle latency")
	mode := fs.String("mode", "both", "sendq, bare or both")
	rounds := fs.Int("rounds", 3, "runs of each mode, alternated; the figures are their medians")
	flush := fs.Bool("flush", false, "flush REDIS_URL's database first (it must be empty otherwise)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the runs to this file")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *n < 1 || *concurrency < 1 || *rounds < 1 || (*mode != "sendq" && *mode != "bare" && *mode != "both") {
		return usagef("usage: sendq bench [--n N] [--latency D] [--concurrency C] [--limit R] [--mode sendq|bare|both] [--rounds R] [--flush]")
	}
	lim, err := ratelimit.ParseLimit(*limit)
	if err != nil {
		return usagef("--limit: %v", err)
	}
	rdb, err := a.redis(ctx, *concurrency+64)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if *flush {
		if err := rdb.FlushDB(ctx).Err(); err != nil {
			return err
		}
	} else if size, _ := rdb.DBSize(ctx).Result(); size > 0 {
		return usagef("REDIS_URL's database has %d keys: bench writes and deletes freely, so give it an empty one or --flush", size)
	}
	sandbox := whautomatetest.NewServer(whautomatetest.Options{APIKey: "bench", Latency: *latency})
	defer sandbox.Close()
	api, err := whautomate.New(whautomate.Config{BaseURL: sandbox.URL(), APIKey: "bench"})
	if err != nil {
		return err
	}
	b := &benchRun{a: a, rdb: rdb, sandbox: sandbox, api: api, n: *n, concurrency: *concurrency, limit: lim}
	fmt.Fprintf(a.stdout, "bench: %d messages, sandbox latency %v, concurrency %d, redis %s\n\n", *n, *latency, *concurrency, redactURL(a.env.RedisURL))

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// Rounds alternate the two modes, so that whatever else the machine does
	// weighs on both alike; medians keep one disturbed round from deciding.
	var sq, bare []benchResult
	for round := range *rounds {
		if *mode == "sendq" || *mode == "both" {
			r, err := b.sendq(ctx, *idle)
			if err != nil {
				return err
			}
			sq = append(sq, r)
			fmt.Fprintf(a.stdout, "round %d: sendq chain %.0f msgs/s, %.1f CPU ms/1k, %d slots given up\n", round+1, r.sendRate, ms(r.cpuPer1000), r.slotsMissed)
		}
		if *mode == "bare" || *mode == "both" {
			r, err := b.bare(ctx, *idle)
			if err != nil {
				return err
			}
			bare = append(bare, r)
			fmt.Fprintf(a.stdout, "round %d: bare asynq  %.0f msgs/s, %.1f CPU ms/1k\n", round+1, r.sendRate, ms(r.cpuPer1000))
		}
	}
	fmt.Fprintln(a.stdout)
	printBench(a.stdout, sq, bare)
	return nil
}

type benchRun struct {
	a           *app
	rdb         redis.UniversalClient
	sandbox     *whautomatetest.Server
	api         *whautomate.Client
	n           int
	concurrency int
	limit       ratelimit.Limit
}

type benchResult struct {
	name                 string
	enqueueRate          float64
	sendRate             float64
	p50, p99             time.Duration // enqueue to send, the whole backlog
	idleP50, idleP99     time.Duration
	idle                 []time.Duration // the idle latencies measured, for pooling rounds
	cpuPer1000           time.Duration   // this process (worker, client and sandbox)
	redisCPUPer1000      time.Duration
	memPerQueued         float64 // bytes
	sentTwice            int
	slotsMissed          int // rate-limit slots given up (sendq only)
	totalSent, totalMsgs int
}

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

// counterSum is the sum of the counter name's series in reg.
func counterSum(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
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

// percentiles returns the p50 and p99 of lat (zero when empty).
func percentiles(lat []time.Duration) (time.Duration, time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	lat = slices.Clone(lat)
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100]
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

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the Redis server's CPU time so far (INFO cpu).
func redisCPU(ctx context.Context, rdb redis.UniversalClient) time.Duration {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	total := 0.0
	for _, f := range []string{"used_cpu_sys", "used_cpu_user"} {
		v, _ := strconv.ParseFloat(infoField(info, f), 64)
		total += v
	}
	return time.Duration(total * float64(time.Second))
}

func usedMemory(ctx context.Context, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(infoField(info, "used_memory")), 10, 64)
	return v
}

func printBench(w io.Writer, sq, bare []benchResult) {
	var rows []benchResult
	for _, rs := range [][]benchResult{sq, bare} {
		if len(rs) > 0 {
			rows = append(rows, median(rs))
		}
	}
	if len(sq)+len(bare) > 2 {
		fmt.Fprintf(w, "medians of %d rounds:\n", max(len(sq), len(bare)))
	}
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tenqueue/s\tsend/s\tp50\tp99\tidle p50\tidle p99\tCPU ms/1k msgs\tredis CPU ms/1k\tredis B/queued msg\tsent\ttwice\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%v\t%v\t%v\t%v\t%.1f\t%.1f\t%.0f\t%d/%d\t%d\t\n", r.name, r.enqueueRate, r.sendRate,
			r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.idleP50.Round(100*time.Microsecond), r.idleP99.Round(100*time.Microsecond),
			ms(r.cpuPer1000), ms(r.redisCPUPer1000), r.memPerQueued, r.totalSent, r.totalMsgs, r.sentTwice)
	}
	_ = tw.Flush()
	if len(sq) == 0 || len(sq) != len(bare) {
		return
	}
	// Each round's ratio, as well as the ratio of the medians: the spread
	// says how much the machine's other work moved the figures.
	var rate, cpu []float64
	for i := range sq {
		rate = append(rate, sq[i].sendRate/bare[i].sendRate)
		cpu = append(cpu, float64(sq[i].cpuPer1000)/float64(bare[i].cpuPer1000))
	}
	sort.Float64s(rate)
	sort.Float64s(cpu)
	fmt.Fprintf(w, "\nsendq / bare: send rate %.2f× (rounds %.2f–%.2f), CPU per message %.2f× (rounds %.2f–%.2f; this process: worker, client and sandbox)\n",
		rows[0].sendRate/rows[1].sendRate, rate[0], rate[len(rate)-1],
		float64(rows[0].cpuPer1000)/float64(rows[1].cpuPer1000), cpu[0], cpu[len(cpu)-1])
	// The machine's other work only ever slows a round down, so each mode's
	// best round is the one it disturbed least: their ratio is what the
	// chain costs with the disturbance taken out, next to the medians.
	best := func(rs []benchResult) (rate float64, cpu time.Duration) {
		rate, cpu = rs[0].sendRate, rs[0].cpuPer1000
		for _, r := range rs[1:] {
			rate, cpu = max(rate, r.sendRate), min(cpu, r.cpuPer1000)
		}
		return rate, cpu
	}
	sr, sc := best(sq)
	br, bc := best(bare)
	fmt.Fprintf(w, "best rounds: sendq %.0f msgs/s at %.1f CPU ms/1k, bare %.0f at %.1f: %.2f× the rate, %.2f× the CPU\n",
		sr, ms(sc), br, ms(bc), sr/br, float64(sc)/float64(bc))
}

// median is, column by column, the median of rs (the upper one of an even
// count); the counts of sent messages are summed and the idle latencies
// pooled.
func median(rs []benchResult) benchResult {
	m := rs[0]
	pick := func(get func(r benchResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	dur := func(get func(r benchResult) time.Duration) time.Duration {
		return time.Duration(pick(func(r benchResult) float64 { return float64(get(r)) }))
	}
	m.enqueueRate = pick(func(r benchResult) float64 { return r.enqueueRate })
	m.sendRate = pick(func(r benchResult) float64 { return r.sendRate })
	m.memPerQueued = pick(func(r benchResult) float64 { return r.memPerQueued })
	m.p50 = dur(func(r benchResult) time.Duration { return r.p50 })
	m.p99 = dur(func(r benchResult) time.Duration { return r.p99 })
	// The idle latencies of all rounds together: a p99 of one round's 200
	// is its second-worst sample.
	m.idle = nil
	for _, r := range rs {
		m.idle = append(m.idle, r.idle...)
	}
	m.idleP50, m.idleP99 = percentiles(m.idle)
	m.cpuPer1000 = dur(func(r benchResult) time.Duration { return r.cpuPer1000 })
	m.redisCPUPer1000 = dur(func(r benchResult) time.Duration { return r.redisCPUPer1000 })
	m.totalSent, m.totalMsgs, m.sentTwice = 0, 0, 0
	for _, r := range rs {
		m.totalSent += r.totalSent
		m.totalMsgs += r.totalMsgs
		m.sentTwice += r.sentTwice
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// quietLogger drops asynq's logs during a bench.
type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(args ...any) {
	panic(errors.New(fmt.Sprint(args...)))
}
