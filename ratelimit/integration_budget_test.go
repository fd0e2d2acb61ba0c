package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// budgetHorizon is how far ahead TestIntegrationBudget's Limiters reserve:
// more than a minute, so that every slot of a minute and more is placed at
// once, without waiting for the clock.
const budgetHorizon = 70 * time.Second

// TestIntegrationBudget fills a scope's budget over budgetHorizon from three
// Limiters (three worker processes) with 24 goroutines on a real Redis,
// mixing channels, recipients and budget-only requests, and counts the
// slots Redis handed out: in no sliding minute more than the budget, in no
// sliding second more than ceil(budget/60)+1, and the whole horizon used.
// Then two scopes at once: each gets its own budget in full, and a third
// scope's first slot is immediate while both are spent.
func TestIntegrationBudget(t *testing.T) {
	open := realRedis(t)
	procs := make([]*Limiter, 3)
	for i := range procs {
		l, err := New(open(), Config{MaxWait: budgetHorizon})
		require.NoError(t, err)
		procs[i] = l
	}
	for _, budget := range []string{"60/m", "300/m", "1000/m"} {
		t.Run(budget, func(t *testing.T) {
			limit, err := ParseLimit(budget)
			require.NoError(t, err)
			scope := fmt.Sprintf("b%d", limit.Rate)
			slots := fillBudgets(t, procs, map[string]Limit{scope: limit})
			requireSpread(t, slots[scope], limit)
		})
	}
	t.Run("two scopes", func(t *testing.T) {
		budgets := map[string]Limit{"alpha": {Rate: 300, Per: time.Minute}, "beta": {Rate: 60, Per: time.Minute}}
		slots := fillBudgets(t, procs, budgets)
		for scope, limit := range budgets {
			t.Run(scope, func(t *testing.T) { requireSpread(t, slots[scope], limit) })
		}
		r, err := procs[0].Reserve(context.Background(), Request{Scope: "gamma", Budget: budgets["alpha"], Key: "whatsapp"})
		require.NoError(t, err)
		require.Equal(t, Reservation{OK: true}, public(r), "gamma's first slot is now, alpha's and beta's spent")
	})
}

// fillBudgets reserves from 8 goroutines per scope, spread over procs, until
// each scope's budget refuses: every slot of the horizon is taken. It
// returns the slots (µs on Redis's clock) by scope.
func fillBudgets(t *testing.T, procs []*Limiter, budgets map[string]Limit) map[string][]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		mu    sync.Mutex
		slots = map[string][]int64{}
		wg    sync.WaitGroup
	)
	for scope, budget := range budgets {
		for g := range 8 {
			wg.Go(func() {
				p := procs[g%len(procs)]
				for i := 0; ; i++ {
					r, err := p.Reserve(ctx, budgetRequest(scope, budget, g, i))
					if err != nil {
						t.Error(err)
						return
					}
					if !r.OK && r.Reason == ReasonBudget {
						return
					}
					if !r.OK { // nothing but the budget binds these requests
						t.Errorf("refused by another level: %+v", r)
						return
					}
					mu.Lock()
					slots[scope] = append(slots[scope], r.redisNow+r.Delay.Microseconds())
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return slots
}

// budgetRequest is goroutine g's i-th request for scope: in turn a WhatsApp
// send (80/s) to a recipient of its own (1 per 6 s), a Telegram one (30/s),
// and a budget-only look-up.
func budgetRequest(scope string, budget Limit, g, i int) Request {
	req := Request{Scope: scope, Budget: budget}
	switch i % 3 {
	case 0:
		req.Key, req.Limit = "whatsapp", Limit{Rate: 80, Per: time.Second}
		req.Recipient = fmt.Sprintf("c:%d:%d", g, i)
		req.RecipientLimit = Limit{Rate: 1, Per: 6 * time.Second}
	case 1:
		req.Key, req.Limit = "telegram", Limit{Rate: 30, Per: time.Second}
	}
	return req
}

// requireSpread checks one scope's slots against its budget.
func requireSpread(t *testing.T, slots []int64, budget Limit) {
	t.Helper()
	slices.Sort(slots)
	interval := budget.micros()
	horizon := int(budgetHorizon.Microseconds()/interval) + 1
	require.GreaterOrEqual(t, len(slots), horizon, "the whole horizon was reserved")
	for i := 1; i < len(slots); i++ {
		require.GreaterOrEqual(t, slots[i]-slots[i-1], interval, "slots %d and %d", i-1, i)
	}
	minuteClosed, minuteOpen := busiest(slots, time.Minute)
	secondClosed, secondOpen := busiest(slots, time.Second)
	perSecond := (budget.Rate + 59) / 60 // ceil(limit/60), the budget being per minute
	t.Logf("%v: %d slots over %v; busiest minute %d ([a, a+1m)) / %d ([a, a+1m]), busiest second %d / %d",
		budget, len(slots), micros(slots[len(slots)-1]-slots[0]), minuteOpen, minuteClosed, secondOpen, secondClosed)
	require.LessOrEqual(t, minuteOpen, budget.Rate, "slots in a sliding minute")
	require.LessOrEqual(t, minuteClosed, budget.Rate+1, "slots in a closed sliding minute, both ends on a slot")
	require.LessOrEqual(t, secondClosed, perSecond+1, "slots in a sliding second")
}
