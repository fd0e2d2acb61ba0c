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
	lim, done := newExampleLimiter()
	defer done()
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

// An account's budget is taken by every request made for it, on any
// channel, in the same script call as the channel's limit; a 429 holds the
// whole account.
func ExampleLimiter_Reserve_budget() {
	lim, done := newExampleLimiter()
	defer done()
	ctx := context.Background()
	budget := ratelimit.Limit{Rate: 300, Per: time.Minute} // one request every 200 ms
	for _, req := range []ratelimit.Request{
		{Scope: "clinic-sg", Budget: budget, Key: "whatsapp", Limit: ratelimit.Limit{Rate: 80, Per: time.Second}},
		{Scope: "clinic-sg", Budget: budget, Key: "telegram", Limit: ratelimit.Limit{Rate: 30, Per: time.Second}},
		{Scope: "clinic-sg", Budget: budget}, // a look-up: the budget alone
		{Scope: "clinic-my", Budget: budget, Key: "whatsapp"},
	} {
		r, err := lim.Reserve(ctx, req)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %-8s ok=%v delay=%v reason=%q\n", req.Scope, req.Key, r.OK, r.Delay, r.Reason)
	}

	// A 429 with Retry-After: 30 holds clinic-sg, every channel, in every process.
	if err := lim.Cooldown(ctx, ratelimit.Target{Scope: "clinic-sg"}, 30*time.Second); err != nil {
		panic(err)
	}
	for _, scope := range []string{"clinic-sg", "clinic-my"} {
		r, err := lim.Reserve(ctx, ratelimit.Request{Scope: scope, Budget: budget, Key: "instagram"})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %-8s ok=%v delay=%v reason=%q\n", scope, "instagram", r.OK, r.Delay, r.Reason)
	}
	// Output:
	// clinic-sg whatsapp ok=true delay=0s reason=""
	// clinic-sg telegram ok=true delay=200ms reason="budget"
	// clinic-sg          ok=true delay=400ms reason="budget"
	// clinic-my whatsapp ok=true delay=0s reason=""
	// clinic-sg instagram ok=false delay=30s reason="account_cooldown"
	// clinic-my instagram ok=true delay=200ms reason="budget"
}

// newExampleLimiter returns a Limiter on an in-memory Redis (miniredis)
// whose clock, like the Limiter's, stands still, for a stable output; done
// closes both.
func newExampleLimiter() (lim *ratelimit.Limiter, done func()) {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mr.SetTime(now)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	lim, err = ratelimit.New(rdb, ratelimit.Config{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	return lim, func() {
		rdb.Close()
		mr.Close()
	}
}
