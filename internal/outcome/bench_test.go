package outcome

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/tasks"
)

// BenchmarkClaimFinish is the outcome store's part of every send on the real
// Redis: a claim, then the record of a successful send, from 64 goroutines
// as the worker's handlers make them. It reports the Redis server's CPU per
// message, the figure that bounds a worker's send rate when Redis and the
// worker share a machine.
//
//	go test -run '^$' -bench ClaimFinish -benchtime 20000x ./internal/outcome/
func BenchmarkClaimFinish(b *testing.B) {
	for _, campaign := range []string{"", "c1"} {
		name := "transactional"
		if campaign != "" {
			name = "campaign"
		}
		b.Run(name, func(b *testing.B) {
			rdb := redistest.Client(b, 0)
			s, err := New(rdb, Config{})
			require.NoError(b, err)
			ctx := context.Background()
			now := time.Now()
			msgs := make([]*tasks.Message, b.N)
			for i := range msgs {
				msgs[i] = &tasks.Message{ID: fmt.Sprintf("m%08d", i), Channel: tasks.WhatsApp, Kind: tasks.KindTemplate, Campaign: campaign,
					To:       tasks.Recipient{ContactID: fmt.Sprintf("c%08d", i)},
					Template: &tasks.Template{Name: "order_update", Language: "en", Params: []string{"Ada", "#1042"}}}
			}
			if campaign != "" {
				require.NoError(b, s.OpenCampaign(ctx, "", campaign, now))
			}
			for _, m := range msgs {
				_, _, err := s.Create(ctx, m, Schedule{}, now)
				require.NoError(b, err)
			}
			var next atomic.Int64
			cpu0 := redistest.CPU(b, rdb)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range 64 {
				wg.Go(func() {
					for {
						i := int(next.Add(1) - 1)
						if i >= b.N {
							return
						}
						m := msgs[i]
						token := fmt.Sprintf("t%d", i)
						c, err := claim(ctx, s, m, token, time.Minute, now)
						if err != nil || c.Status != Claimed {
							b.Errorf("claim %s: %v %v", m.ID, c.Status, err)
							return
						}
						if _, err := s.Finish(ctx, m, token, Result{State: Sent, Calls: 1, UpstreamID: "wamid." + m.ID}, now); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64((redistest.CPU(b, rdb)-cpu0).Microseconds())/float64(b.N), "redis-cpu-µs/msg")
			counts, err := rdb.HGetAll(ctx, "{sendq}:counts").Result()
			require.NoError(b, err)
			require.Equal(b, fmt.Sprint(b.N), counts[string(Sent)])
		})
	}
}
