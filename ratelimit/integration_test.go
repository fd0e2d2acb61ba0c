package ratelimit

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/internal/redisurl"
)

// realRedis returns a function that opens a new client on the test Redis
// (see package redistest), whose database it flushes first.
func realRedis(tb testing.TB) func() redis.UniversalClient {
	tb.Helper()
	redistest.Client(tb, 7)
	url := redistest.URL(tb, 7)
	return func() redis.UniversalClient {
		rdb, err := redisurl.Open(url, 0)
		require.NoError(tb, err)
		tb.Cleanup(func() { rdb.Close() })
		return rdb
	}
}

// TestIntegrationSharedLimit runs three Limiters, each with its own client
// (three worker processes), and 150 goroutines reserving at once for 4 s
// of slots at 50/s on a real Redis. The slots Redis hands out never put more
// than 51 into a 1 s window (50, Rate+Burst−1, into a half-open one) and
// average within 2% of 50/s. (Over 1.5 s, one 60 ms stall of the test
// process under go test ./... left three slots unasked for: a 4 % rate.)
func TestIntegrationSharedLimit(t *testing.T) {
	open := realRedis(t)
	const (
		goroutines = 150
		span       = 4 * time.Second
	)
	limit := Limit{Rate: 50, Per: time.Second}
	procs := make([]*Limiter, 3)
	for i := range procs {
		l, err := New(open(), Config{})
		require.NoError(t, err)
		procs[i] = l
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start, err := procs[0].rdb.Time(ctx).Result()
	require.NoError(t, err)
	end := start.Add(span).UnixMicro()

	var (
		mu    sync.Mutex
		slots []int64 // µs on Redis's clock
		wg    sync.WaitGroup
		done  = make(chan struct{}) // closed once a slot lies past the span
		once  sync.Once
	)
	for g := range goroutines {
		wg.Go(func() {
			p := procs[g%len(procs)]
			req := Request{Key: "whatsapp", Limit: limit}
			timer := time.NewTimer(0)
			<-timer.C
			for {
				r, err := p.Reserve(ctx, req)
				if err != nil {
					t.Error(err)
					return
				}
				if r.OK {
					at := r.redisNow + r.Delay.Microseconds()
					if at >= end {
						once.Do(func() { close(done) })
						return
					}
					mu.Lock()
					slots = append(slots, at)
					mu.Unlock()
				}
				// Act at the slot (OK) or come back when told (not OK).
				timer.Reset(r.Delay)
				select {
				case <-ctx.Done():
					t.Error(ctx.Err())
					return
				case <-done:
					return
				case <-timer.C:
				}
			}
		})
	}
	wg.Wait()

	slices.Sort(slots)
	require.NotEmpty(t, slots)
	closed, halfOpen := busiest(slots, time.Second)
	n := len(slots)
	first, last := slots[0], slots[n-1]
	rate := float64(n-1) / (float64(last-first) / 1e6)
	var st Stats
	for _, p := range procs {
		s := p.Stats()
		st.RedisCalls += s.RedisCalls
		st.LocalDenials += s.LocalDenials
	}
	t.Logf("%d slots from +%v to +%v: %.3f/s; at most %d in a closed 1 s window, %d in a half-open one; %d Redis calls, %d local denials",
		n, time.Duration(first-start.UnixMicro())*time.Microsecond, time.Duration(last-start.UnixMicro())*time.Microsecond,
		rate, closed, halfOpen, st.RedisCalls, st.LocalDenials)

	require.LessOrEqual(t, closed, 51, "events in a 1 s window")
	require.LessOrEqual(t, halfOpen, limit.Rate+limit.burst()-1, "events in a half-open 1 s window")
	require.InEpsilon(t, 50.0, rate, 0.02, "average rate")
	require.InEpsilon(t, 50.0*span.Seconds(), float64(n), 0.02, "slots in %v", span)
}

// busiest counts the most of the sorted slots (µs) in any window of length
// w: closed ([a, a+w]) and half-open ([a, a+w)). The busiest window of
// either kind starts at a slot.
func busiest(slots []int64, w time.Duration) (closed, halfOpen int) {
	us := w.Microseconds()
	for i, s := range slots {
		j, _ := slices.BinarySearch(slots, s+us)
		halfOpen = max(halfOpen, j-i)
		for j < len(slots) && slots[j] == s+us {
			j++
		}
		closed = max(closed, j-i)
	}
	return closed, halfOpen
}

// benchCase is one request a benchmark reserves again and again.
type benchCase struct {
	name string
	req  Request
}

// BenchmarkReserve measures Reserve on miniredis and on the real Redis, with
// no limit (the cool-down check alone), with a limit loose enough that every
// call is granted by Redis, and with a limit the benchmark saturates (most
// calls refused by the local front). Besides ns/op it reports Redis
// round trips per Reserve.
func BenchmarkReserve(b *testing.B) {
	benchReserve(b, []benchCase{
		{"none", Request{Key: "whatsapp", Recipient: "c:1"}},
		{"granted", Request{Key: "whatsapp", Limit: Limit{Rate: 1000000, Per: time.Second}, Recipient: "c:1"}},
		{"saturated", Request{Key: "whatsapp", Limit: Limit{Rate: 80, Per: time.Second}}},
	})
}

// BenchmarkReserveWithBudget is BenchmarkReserve's cases in a scope with a
// budget, which the same script call decides: granted (a budget loose enough
// for every call), saturated by the budget (300/m: most calls refused by the
// scope's local front), and a budget-only request. Its rediscalls/op beside
// BenchmarkReserve's show that the budget adds no round trip.
func BenchmarkReserveWithBudget(b *testing.B) {
	loose := Limit{Rate: 1000000, Per: time.Second}
	benchReserve(b, []benchCase{
		{"none", Request{Scope: "acme", Key: "whatsapp", Recipient: "c:1"}},
		{"granted", Request{Scope: "acme", Budget: loose, Key: "whatsapp", Limit: loose, Recipient: "c:1"}},
		{"saturated", Request{Scope: "acme", Budget: Limit{Rate: 300, Per: time.Minute}, Key: "whatsapp", Limit: Limit{Rate: 80, Per: time.Second}}},
		{"budget-only", Request{Scope: "acme", Budget: loose}},
	})
}

// benchReserve runs cases on miniredis and on the real Redis, each on a
// fresh Limiter, reporting Redis round trips per Reserve besides ns/op.
func benchReserve(b *testing.B, cases []benchCase) {
	servers := []struct {
		name string
		open func(b *testing.B) redis.UniversalClient
	}{
		{"miniredis", func(b *testing.B) redis.UniversalClient {
			mr := miniredis.RunT(b)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			b.Cleanup(func() { rdb.Close() })
			return rdb
		}},
		{"redis", func(b *testing.B) redis.UniversalClient { return realRedis(b)() }},
	}
	for _, srv := range servers {
		for _, c := range cases {
			b.Run(srv.name+"/"+c.name, func(b *testing.B) {
				l, err := New(srv.open(b), Config{})
				require.NoError(b, err)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := l.Reserve(ctx, c.req); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(l.Stats().RedisCalls)/float64(b.N), "rediscalls/op")
			})
		}
	}
}
