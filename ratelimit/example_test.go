package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/ratelimit"
)

func ExampleParseLimit() {
	for _, s := range []string{"80/s", "30/m", "100/h", "1/6s:3", "0"} {
		l, err := ratelimit.ParseLimit(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-7s every %v, none: %v\n", l, l.Interval(), l.IsZero())
	}
	_, err := ratelimit.ParseLimit("80/x")
	fmt.Println(err)
	// Output:
	// 80/s    every 12.5ms, none: false
	// 30/m    every 2s, none: false
	// 100/h   every 36s, none: false
	// 1/6s:3  every 6s, none: false
	// 0       every 0s, none: true
	// ratelimit: invalid limit "80/x": the period after / must be s, m, h or a positive duration such as 6s
}

func ExampleLimiter_Reserve() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	// Redis's TIME and the local clock stand still, for a stable output.
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mr.SetTime(now)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	lim, err := ratelimit.New(rdb, ratelimit.Config{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	req := ratelimit.Request{
		Key:            "whatsapp",
		Limit:          ratelimit.Limit{Rate: 50, Per: time.Second},
		Recipient:      "c:123",
		RecipientLimit: ratelimit.Limit{Rate: 1, Per: 6 * time.Second, Burst: 2},
	}
	for range 3 {
		r, err := lim.Reserve(ctx, req)
		if err != nil {
			panic(err)
		}
		fmt.Printf("ok=%v delay=%v reason=%q\n", r.OK, r.Delay, r.Reason)
	}

	// A 429 with Retry-After: 30 holds the channel in every process.
	if err := lim.Cooldown(ctx, ratelimit.Target{Key: "whatsapp"}, 30*time.Second); err != nil {
		panic(err)
	}
	req.Recipient = "c:456"
	r, err := lim.Reserve(ctx, req)
	if err != nil {
		panic(err)
	}
	fmt.Printf("ok=%v delay=%v reason=%q\n", r.OK, r.Delay, r.Reason)
	// Output:
	// ok=true delay=0s reason=""
	// ok=true delay=20ms reason="rate"
	// ok=false delay=6s reason="recipient_rate"
	// ok=false delay=30s reason="cooldown"
}
