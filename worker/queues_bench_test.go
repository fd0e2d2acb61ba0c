package worker_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/redistest"
)

// BenchmarkIdleQueues measures what the design sendq did not take costs: a
// queue per account (each account's eight: four channels, two lanes), on
// one idle asynq server polling as the worker's do. It reports the Redis
// commands a second that the idle server makes with the queues of 1, 20
// and 200 accounts; sendq's shared queues are the 1-account case for any
// number of accounts (README "Accounts"). Each iteration is a one-second
// window; Redis's counters are the server's, so give it a Redis of its own:
//
//	SENDQ_TEST_REDIS_URL=redis://127.0.0.1:6391/14 go test -run '^$' -bench IdleQueues -benchtime 5x ./worker/
func BenchmarkIdleQueues(b *testing.B) {
	for _, accounts := range []int{1, 20, 200} {
		b.Run(fmt.Sprintf("accounts=%d", accounts), func(b *testing.B) {
			rdb := redistest.Client(b, 0)
			queues := map[string]int{}
			for a := range accounts {
				for _, ch := range []string{"whatsapp", "telegram", "instagram", "messenger"} {
					queues[fmt.Sprintf("sendq:a%03d:%s", a, ch)] = 2
					queues[fmt.Sprintf("sendq:a%03d:%s:bulk", a, ch)] = 1
				}
			}
			srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 50, Queues: queues,
				TaskCheckInterval: 10 * time.Millisecond, DelayedTaskCheckInterval: 250 * time.Millisecond,
				LogLevel: asynq.FatalLevel})
			if err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })); err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown()
			// One window for the server to start, outside the measure; then
			// b.N measured windows of idle polling.
			window := time.NewTicker(time.Second)
			defer window.Stop()
			<-window.C
			b.ResetTimer()
			before := commands(b, rdb)
			for range b.N {
				<-window.C
			}
			b.ReportMetric(float64(commands(b, rdb)-before)/float64(b.N), "redis-cmds/s")
		})
	}
}

// commands is Redis's count of commands processed so far.
func commands(b *testing.B, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(context.Background(), "stats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no total_commands_processed in INFO stats")
	return 0
}
