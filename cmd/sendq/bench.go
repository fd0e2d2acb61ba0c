package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
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

	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	sq, bare, err := b.rounds(ctx, *mode, *rounds, *idle)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)
	printBench(a.stdout, sq, bare)
	return nil
}

// startCPUProfile profiles this process into path, when set, until stop.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// rounds runs mode's runs (sendq, bare or both) rounds times, printing a
// line for each. Rounds alternate the two modes, so that whatever else the
// machine does weighs on both alike; medians keep one disturbed round from
// deciding.
func (b *benchRun) rounds(ctx context.Context, mode string, rounds, idle int) (sq, bare []benchResult, err error) {
	out := b.a.stdout
	for round := range rounds {
		if mode == "sendq" || mode == "both" {
			r, err := b.sendq(ctx, idle)
			if err != nil {
				return nil, nil, err
			}
			sq = append(sq, r)
			fmt.Fprintf(out, "round %d: sendq chain %.0f msgs/s, %.1f CPU ms/1k, %d slots given up\n", round+1, r.sendRate, ms(r.cpuPer1000), r.slotsMissed)
		}
		if mode == "bare" || mode == "both" {
			r, err := b.bare(ctx, idle)
			if err != nil {
				return nil, nil, err
			}
			bare = append(bare, r)
			fmt.Fprintf(out, "round %d: bare asynq  %.0f msgs/s, %.1f CPU ms/1k\n", round+1, r.sendRate, ms(r.cpuPer1000))
		}
	}
	return sq, bare, nil
}

// benchRun is what both modes' runs share: the Redis, the sandbox and its
// client, and the run's size.
type benchRun struct {
	a           *app
	rdb         redis.UniversalClient
	sandbox     *whautomatetest.Server
	api         *whautomate.Client
	n           int
	concurrency int
	limit       ratelimit.Limit
}

// benchResult is one run's figures, or the medians of several.
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
