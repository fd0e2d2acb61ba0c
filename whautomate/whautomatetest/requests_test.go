package whautomatetest_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// answered is what a Request says of an answer, without its time.
type answered struct {
	account int
	status  int
	counted bool
}

// answers returns the sandbox's Requests as answered rows.
func answers(sb *whautomatetest.Server) []answered {
	var got []answered
	for _, r := range sb.Requests() {
		got = append(got, answered{r.Account, r.Status, r.Counted})
	}
	return got
}

func TestBudgetAndScripts(t *testing.T) {
	const key = whautomatetest.DefaultAPIKey
	tests := []struct {
		name    string
		answer  *whautomatetest.Answer // nil: no script
		key     string
		want    int
		counted bool
	}{
		{"a scripted 503 reached the account", &whautomatetest.Answer{Status: 503}, key, 503, true},
		{"a scripted 429 stands for a refusal", &whautomatetest.Answer{Status: 429, RetryAfter: "3"}, key, 429, false},
		{"a scripted answer to a wrong key", &whautomatetest.Answer{Status: 200}, "wrong", 200, false},
		{"the second slot", nil, key, 200, true},
		{"the budget is spent", nil, key, 429, false},
		{"a script still comes first, uncounted", &whautomatetest.Answer{Status: 500}, key, 500, false},
	}
	b := setup(t, whautomatetest.Options{Budget: 2})
	var want []answered
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.answer != nil {
				b.sb.Script(whautomatetest.Match{}, *tt.answer)
			}
			status, _, v := call(t, b.sb, tgText, tt.key)
			require.Equal(t, tt.want, status, "answer: %v", v)
			want = append(want, answered{b.sb.KeyIndex(tt.key), tt.want, tt.counted})
			require.Equal(t, want, answers(b.sb))
		})
	}
	require.Equal(t, 2, b.sb.Count429(key), "the scripted one and the budget's")

	t.Run("a drop without Accept never reached the account; with Accept it did", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{Budget: 1})
		to := tasks.Recipient{ContactID: "c1"}
		b.sb.Script(whautomatetest.Match{}, whautomatetest.Answer{Drop: true})
		_, err := b.client.SendTelegramText(context.Background(), to, "hi")
		require.Error(t, err)
		_, err = b.client.SendTelegramText(context.Background(), to, "hi")
		require.NoError(t, err, "the drop took no slot")
		b.clock.Set(t0.Add(time.Minute))
		b.sb.Script(whautomatetest.Match{}, whautomatetest.Answer{Drop: true, Accept: true})
		_, err = b.client.SendTelegramText(context.Background(), to, "hi")
		require.Error(t, err)
		status, _, _ := call(t, b.sb, tgText, whautomatetest.DefaultAPIKey)
		require.Equal(t, http.StatusTooManyRequests, status, "the accepted drop took the slot")
		require.Equal(t, []answered{{0, 0, false}, {0, 200, true}, {0, 0, true}, {0, 429, false}}, answers(b.sb))
	})
	t.Run("down or revoked, nothing is counted", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{Budget: 1})
		b.sb.SetDown(true)
		status, _, _ := call(t, b.sb, tgText, key)
		require.Equal(t, http.StatusServiceUnavailable, status)
		b.sb.SetDown(false)
		b.sb.RevokeKey(key)
		status, _, _ = call(t, b.sb, tgText, key)
		require.Equal(t, http.StatusForbidden, status)
		b.sb.AcceptKey(key)
		status, _, _ = call(t, b.sb, tgText, key)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, 1, b.sb.CountStatus(key, http.StatusForbidden))
	})
}

func TestRetryAfter429(t *testing.T) {
	tests := []struct {
		option time.Duration
		want   string
	}{
		{0, ""},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{time.Minute, "60"},
	}
	for _, tt := range tests {
		t.Run(tt.option.String(), func(t *testing.T) {
			b := setup(t, whautomatetest.Options{Budget: 1, RetryAfter429: tt.option})
			status, retryAfter, _ := call(t, b.sb, lookup, whautomatetest.DefaultAPIKey)
			require.Equal(t, http.StatusOK, status)
			require.Empty(t, retryAfter, "only on a 429")
			status, retryAfter, _ = call(t, b.sb, lookup, whautomatetest.DefaultAPIKey)
			require.Equal(t, http.StatusTooManyRequests, status)
			require.Equal(t, tt.want, retryAfter)
		})
	}
}

func TestRequests(t *testing.T) {
	const a, b = "key-a", "key-b"
	bu := setup(t, whautomatetest.Options{APIKey: a, Keys: map[string]whautomatetest.KeyOptions{b: {Budget: 1}}})
	sb := bu.sb
	before := time.Now()
	for _, c := range []struct{ path, key string }{{waTemplate, a}, {lookup, a}, {tgText, b}, {tgText, b}, {waTemplate, "wrong"}} {
		call(t, sb, c.path, c.key)
	}
	got := sb.Requests()
	require.Len(t, got, 5)
	for i := range got {
		require.False(t, got[i].At.Before(before), "wall clock, not Options.Now")
		if i > 0 {
			require.False(t, got[i].At.Before(got[i-1].At), "in the order the budgets counted them")
		}
		got[i].At = time.Time{}
	}
	require.Equal(t, []whautomatetest.Request{
		{Account: 0, Path: waTemplate, Channel: tasks.WhatsApp, Status: 200, Counted: true},
		{Account: 0, Path: lookup, Status: 200, Counted: true},
		{Account: 1, Path: tgText, Channel: tasks.Telegram, Status: 200, Counted: true},
		{Account: 1, Path: tgText, Channel: tasks.Telegram, Status: 429},
		{Account: -1, Path: waTemplate, Channel: tasks.WhatsApp, Status: 403},
	}, got)

	require.Equal(t, 0, sb.KeyIndex(a))
	require.Equal(t, 1, sb.KeyIndex(b))
	require.Equal(t, 0, sb.Count429(a))
	require.Equal(t, 1, sb.Count429(b))
	require.Equal(t, 2, sb.CountStatus(a, http.StatusOK))
	require.Zero(t, sb.CountStatus("wrong", http.StatusForbidden), "a key the sandbox does not know has no account")
	require.Equal(t, 2, sb.BusiestWindow(a, time.Hour))
	require.Equal(t, 1, sb.BusiestWindow(b, time.Hour), "the 429 is not counted")
	require.Zero(t, sb.BusiestWindow("wrong", time.Hour))
	require.Len(t, sb.Sent(), 2, "Sent is the accepted sends only")

	sb.Reset()
	require.Empty(t, sb.Requests())
	require.Zero(t, sb.Count429(b))
	status, _, _ := call(t, sb, tgText, b)
	require.Equal(t, http.StatusTooManyRequests, status, "the budget's minute outlives a Reset")
	require.Len(t, sb.Requests(), 1)
}

func TestBudgetUnderConcurrency(t *testing.T) {
	const budget, workers, each = 50, 8, 25
	tests := []struct {
		name  string
		clock bool // a clock that stands still: exactly budget accepted
	}{{"fake clock", true}, {"wall clock", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := setup(t, whautomatetest.Options{Budget: budget}).sb
			if !tt.clock { // Options.Now unset: the budget and At share the wall clock
				sb = whautomatetest.NewServer(whautomatetest.Options{Budget: budget})
				t.Cleanup(sb.Close)
			}
			var wg sync.WaitGroup
			statuses := make(chan int, workers*each)
			for range workers {
				wg.Go(func() {
					for range each {
						status, _, _ := call(t, sb, tgText, whautomatetest.DefaultAPIKey)
						statuses <- status
					}
				})
			}
			wg.Wait()
			close(statuses)
			accepted := 0
			for s := range statuses {
				if s == http.StatusOK {
					accepted++
				}
			}
			key := whautomatetest.DefaultAPIKey
			require.Equal(t, workers*each, accepted+sb.Count429(key))
			require.LessOrEqual(t, sb.BusiestWindow(key, time.Minute), budget)
			require.Equal(t, accepted, sb.BusiestWindow(key, 24*time.Hour))
			if tt.clock {
				require.Equal(t, budget, accepted)
			}
		})
	}
}
