package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// useAccounts makes the fleet's producer admit messages at the budgets of
// set, as sendq send does with the deployment's accounts.
func (f *fleet) useAccounts(set *accounts.Set) {
	f.t.Helper()
	p, err := producer.New(producer.Config{Redis: f.rdb, Accounts: set})
	require.NoError(f.t, err)
	f.producer = p
}

// accountsFile writes an accounts file for the fleet's workers: each
// account's key in the variable KEY_<ID>, and its budget.
func (f *fleet) accountsFile(budgets map[string]int) {
	f.t.Helper()
	var b strings.Builder
	b.WriteString("accounts:\n")
	ids := make([]string, 0, len(budgets))
	for id := range budgets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		v := "KEY_" + strings.ToUpper(strings.ReplaceAll(id, "-", "_"))
		fmt.Fprintf(&b, "  - id: %s\n    api_key_env: %s\n    base_url: %s\n    rate_limit: %d/m\n", id, v, f.sandbox.URL(), budgets[id])
		f.env = append(f.env, v+"=key-"+id)
	}
	path := filepath.Join(f.t.TempDir(), "accounts.yaml")
	require.NoError(f.t, os.WriteFile(path, []byte(b.String()), 0o600))
	f.env = append(f.env, "SENDQ_ACCOUNTS_FILE="+path)
}

// envInt reads a test's size from the environment.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

// template is a template message of account ("" for the only one) on ch,
// with id, to the contact of the same id.
func template(account, id string, ch tasks.Channel) tasks.Message {
	m := tasks.Message{ID: id, Account: account, Channel: ch, Kind: tasks.KindTemplate, To: tasks.Recipient{ContactID: id}}
	switch ch {
	case tasks.WhatsApp:
		m.Template = &tasks.Template{Name: "t", Language: "en"}
	case tasks.Telegram:
		m.Template = &tasks.Template{Text: "hello"}
	default:
		m.Template = &tasks.Template{Elements: []tasks.Element{{Title: "hello"}}}
	}
	return m
}

// percentile is the p-th percentile of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// TestAccountsIsolated runs three worker processes for two accounts of one
// file (README "Accounts"). A has a backlog of transactional and campaign
// messages that keeps its budget full; B sends a message every 200 ms, under
// its budget. B's messages reach the sandbox while A's backlog waits
// (their latency is reported), through three events on A: its key revoked
// (403: none of A's messages fails, one probe at a time, B goes on), the
// key accepted again (A resumes), and a 429 with Retry-After: 3 (no request
// with A's key for 3 s).
//
// twoAccounts is a fleet of two accounts, a and b, with budget requests a
// minute each, at the sandbox (keys key-a and key-b) and in the workers'
// and the test's producer's accounts.
func twoAccounts(t *testing.T, budget int) *fleet {
	t.Helper()
	f := newFleet(t, 6, whautomatetest.Options{Latency: 5 * time.Millisecond,
		Keys: map[string]whautomatetest.KeyOptions{"key-a": {Budget: budget}, "key-b": {Budget: budget}}},
		"SENDQ_CONCURRENCY=50")
	f.accountsFile(map[string]int{"a": budget, "b": budget})
	perMinute := ratelimit.Limit{Rate: budget, Per: time.Minute}
	set, err := accounts.NewSet(accounts.Account{ID: "a", Budget: perMinute}, accounts.Account{ID: "b", Budget: perMinute})
	require.NoError(t, err)
	f.useAccounts(set)
	return f
}

// SENDQ_TEST_ISOLATION_A (default 1500) and SENDQ_TEST_ISOLATION_B (default
// 100) size the run; the note's figures are 20,000 and 200.
func TestAccountsIsolated(t *testing.T) {
	nA, nB := envInt(t, "SENDQ_TEST_ISOLATION_A", 1500), envInt(t, "SENDQ_TEST_ISOLATION_B", 100)
	require.GreaterOrEqual(t, nB, 100, "SENDQ_TEST_ISOLATION_B: B's messages span A's events")
	const budget = 600 // a minute, both accounts: 10 requests a second
	f := twoAccounts(t, budget)
	ctx := context.Background()
	keyA := f.sandbox.KeyIndex("key-a")

	// A's first message meets a 429 with Retry-After: 3; its backlog
	// follows, half transactional, half a campaign.
	f.sandbox.Script(whautomatetest.Match{Recipient: "a-429"}, whautomatetest.Answer{Status: 429, RetryAfter: "3"})
	_, err := f.producer.Send(ctx, template("a", "a-429", tasks.Telegram))
	require.NoError(t, err)
	var idsA []string
	for i := range nA / 2 {
		m := template("a", fmt.Sprintf("a-%05d", i), tasks.Channels[i%len(tasks.Channels)])
		_, err := f.producer.Send(ctx, m)
		require.NoError(t, err)
		idsA = append(idsA, m.ID)
	}
	var rows []tasks.Message
	for i := range nA - nA/2 {
		rows = append(rows, template("", "", tasks.WhatsApp))
		rows[i].To = tasks.Recipient{ContactID: fmt.Sprintf("a-bulk-%05d", i)}
	}
	_, err = f.producer.StartCampaign(ctx, "a-campaign", rows, producer.StartOptions{Account: "a"})
	require.NoError(t, err)
	for i := range 3 {
		f.start(fmt.Sprintf("worker-%d", i))
	}
	var limited time.Time
	poll.Eventually(t, func() bool {
		for _, r := range f.sandbox.Requests() {
			if r.Account == keyA && r.Status == 429 {
				limited = r.At
				return true
			}
		}
		return false
	}, time.Minute, 20*time.Millisecond, "the scripted 429")

	// B, every 200 ms, while A's events happen.
	enqueued := map[string]time.Time{}
	var idsB []string
	sendB := func(i int) {
		m := template("b", fmt.Sprintf("b-%05d", i), tasks.Channels[i%len(tasks.Channels)])
		enqueued[m.ID] = time.Now()
		_, err := f.producer.Send(ctx, m)
		require.NoError(t, err)
		idsB = append(idsB, m.ID)
	}
	// A's key is refused for 12 s (B's 60 messages) from B's 20th message.
	revokeAt, acceptAt := min(20, nB/5), min(20, nB/5)+60
	var accepted time.Time
	pace := time.NewTicker(200 * time.Millisecond) // B's pace, whatever a send takes
	defer pace.Stop()
	for i := range nB {
		if i > 0 {
			<-pace.C
		}
		switch i {
		case revokeAt:
			f.sandbox.RevokeKey("key-a")
		case acceptAt:
			f.sandbox.AcceptKey("key-a")
			accepted = time.Now()
		}
		sendB(i)
	}
	f.waitFinished(idsB, time.Minute)

	// B: every message sent, and how long each took.
	var lat []time.Duration
	for _, id := range idsB {
		first := f.sandbox.FirstCall(id)
		require.False(t, first.IsZero(), "B's %s reached the sandbox", id)
		lat = append(lat, first.Sub(enqueued[id]))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })

	// A: none failed; one probe at a time while revoked; the cool-down kept.
	failed := 0
	for _, id := range idsA {
		if o, err := f.producer.StatusOf(ctx, "a", id); err == nil && o.State == producer.StateFailed {
			failed++
		}
	}
	require.Zero(t, failed, "none of A's messages fails")
	var refused []time.Time
	var resumed time.Time
	var quiet time.Duration = -1
	for _, r := range f.sandbox.Requests() {
		switch {
		case r.Account != keyA:
		case r.Status == 403:
			refused = append(refused, r.At)
		case r.At.After(accepted) && r.Status/100 == 2 && resumed.IsZero():
			resumed = r.At
		}
		// Requests on the wire when the 429 came may still arrive (5 ms
		// apart here); none may start after it.
		if r.Account == keyA && r.At.After(limited.Add(50*time.Millisecond)) && quiet < 0 {
			quiet = r.At.Sub(limited)
		}
	}
	require.NotEmpty(t, refused, "A's requests were refused while revoked")
	// Requests on the wire when the key went arrive with it; from the first
	// refusal on, one probe at a time, each after the hold.
	var probes []time.Time
	for _, at := range refused {
		if at.Sub(refused[0]) > time.Second {
			probes = append(probes, at)
		}
	}
	for i := 1; i < len(probes); i++ {
		require.Greater(t, probes[i].Sub(probes[i-1]), 4*time.Second, "one probe at a time, every hold")
	}
	require.False(t, resumed.IsZero(), "A resumes once its key is accepted again")
	require.Greater(t, quiet, 3*time.Second-100*time.Millisecond, "no request with A's key for the Retry-After")
	t.Logf("A: %d queued (%d transactional, %d campaign), budget %d/m; B: %d messages at 5/s, enqueue to sandbox p50 %v p99 %v max %v; "+
		"A revoked: %d refused requests (%d on the wire, then %d probes); A resumed %v after its key was accepted; "+
		"after a 429 with Retry-After 3, A's next request came %v later; B's 429s: %d",
		nA, nA/2, nA-nA/2, budget, len(lat), percentile(lat, 0.5).Round(time.Millisecond), percentile(lat, 0.99).Round(time.Millisecond),
		lat[len(lat)-1].Round(time.Millisecond), len(refused), len(refused)-len(probes), len(probes),
		resumed.Sub(accepted).Round(time.Millisecond), quiet.Round(time.Millisecond), f.sandbox.Count429("key-b"))
}

// redisStats reads the server-wide counters the many-accounts test
// measures: commands processed and CPU seconds (user and system).
func redisStats(t *testing.T, f *fleet) (commands int64, cpu float64) {
	t.Helper()
	info, err := f.rdb.Info(context.Background(), "stats", "cpu").Result()
	require.NoError(t, err)
	for _, line := range strings.Split(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "total_commands_processed":
			commands, _ = strconv.ParseInt(v, 10, 64)
		case "used_cpu_user", "used_cpu_sys":
			x, _ := strconv.ParseFloat(v, 64)
			cpu += x
		}
	}
	return commands, cpu
}

// idleCommands is the rate of commands Redis processes while one worker
// process for the fleet's accounts waits with nothing to send.
func idleCommands(t *testing.T, f *fleet, name string, over time.Duration) float64 {
	t.Helper()
	ins := asynq.NewInspectorFromRedisClient(f.rdb)
	before, err := ins.Servers()
	require.NoError(t, err)
	cmd := f.start(name)
	// The worker is up when its four servers (a channel each) have
	// registered; then the measured window.
	poll.Eventually(t, func() bool {
		servers, err := ins.Servers()
		return err == nil && len(servers) >= len(before)+len(tasks.Channels)
	}, 30*time.Second, 50*time.Millisecond, "the worker's servers register")
	c0, _ := redisStats(t, f)
	<-time.After(over) // the measured window: a span of time, not a wait for an event
	c1, _ := redisStats(t, f)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return float64(c1-c0) / over.Seconds()
}

// TestManyAccounts runs one Redis for many accounts of one file, the
// deployment's traffic shared among them: each account's budget is its
// share of a total rate, each has its share of the messages queued, and
// every account progresses at its budget. It reports Redis's CPU and
// commands per sent message and an idle worker's commands per second, with
// one account and with all of them (README "Accounts"): the queues are
// every account's, so neither grows with the number of accounts.
//
// SENDQ_TEST_MANY_ACCOUNTS (default 20), SENDQ_TEST_MANY_MESSAGES (default
// 400 in all) and SENDQ_TEST_MANY_RATE (default 2400 a minute in all) size
// the run; the note's figures are 1, 20 and 200 accounts for 10,000
// messages at 12,000 a minute, on a Redis of their own
// (SENDQ_TEST_REDIS_URL), since Redis's counters are the server's.
func TestManyAccounts(t *testing.T) {
	n := envInt(t, "SENDQ_TEST_MANY_ACCOUNTS", 20)
	total, rate := envInt(t, "SENDQ_TEST_MANY_MESSAGES", 400), envInt(t, "SENDQ_TEST_MANY_RATE", 2400)
	budget, per := rate/n, total/n
	require.Positive(t, budget, "SENDQ_TEST_MANY_RATE: at least one a minute per account")
	require.Greater(t, per, 1, "SENDQ_TEST_MANY_MESSAGES: at least two per account")
	keys := map[string]whautomatetest.KeyOptions{}
	budgets := map[string]int{}
	var list []accounts.Account
	for i := range n {
		id := fmt.Sprintf("acct-%03d", i)
		keys["key-"+id] = whautomatetest.KeyOptions{Budget: budget}
		budgets[id] = budget
		list = append(list, accounts.Account{ID: id, Budget: ratelimit.Limit{Rate: budget, Per: time.Minute}})
	}
	idleOne := func() float64 {
		one := newFleet(t, 5, whautomatetest.Options{Latency: 5 * time.Millisecond, Keys: map[string]whautomatetest.KeyOptions{"key-acct-000": {}}})
		one.accountsFile(map[string]int{"acct-000": budget})
		return idleCommands(t, one, "idle-one", 5*time.Second)
	}()
	f := newFleet(t, 6, whautomatetest.Options{Latency: 5 * time.Millisecond, Keys: keys}, "SENDQ_CONCURRENCY=50")
	f.accountsFile(budgets)
	idleAll := idleCommands(t, f, "idle-all", 5*time.Second)
	set, err := accounts.NewSet(list...)
	require.NoError(t, err)
	f.useAccounts(set)

	// Channels whose caps the busiest run (one account) stays under.
	channels := []tasks.Channel{tasks.WhatsApp, tasks.Instagram, tasks.Messenger}
	ctx := context.Background()
	var ids []string
	for i := range per {
		for _, a := range list {
			m := template(a.ID, fmt.Sprintf("%s-%05d", a.ID, i), channels[i%len(channels)])
			_, err := f.producer.Send(ctx, m)
			require.NoError(t, err)
			ids = append(ids, m.ID)
		}
	}
	c0, cpu0 := redisStats(t, f)
	for i := range 3 {
		f.start(fmt.Sprintf("worker-%d", i))
	}
	// Measured until the sandbox has every send: the test's own look-ups
	// afterwards are not the workers' cost.
	poll.Eventually(t, func() bool { return f.sandbox.SentCount() >= len(ids) },
		time.Duration(per)*time.Minute/time.Duration(budget)+2*time.Minute, 100*time.Millisecond, "every message reaches the sandbox")
	c1, cpu1 := redisStats(t, f)
	outcomes, err := outcome.New(f.rdb, outcome.Config{})
	require.NoError(t, err)
	for _, a := range list {
		poll.Eventually(t, func() bool {
			counts, err := outcomes.Counts(ctx, a.ID)
			return err == nil && counts[producer.StateSent] == int64(per)
		}, 30*time.Second, 50*time.Millisecond, "every message of %s recorded sent", a.ID)
	}

	// Each account's pace: its sends from first to last, against its budget.
	byKey := map[int][]time.Time{}
	for _, r := range f.sandbox.Requests() {
		if r.Counted {
			byKey[r.Account] = append(byKey[r.Account], r.At)
		}
	}
	var rates []float64
	for _, at := range byKey {
		require.Len(t, at, per, "every account's messages, each once")
		rates = append(rates, float64(per-1)/at[per-1].Sub(at[0]).Seconds()*60)
	}
	sort.Float64s(rates)
	for _, a := range list {
		require.Zero(t, f.sandbox.Count429("key-"+a.ID), "no 429 for %s", a.ID)
	}
	t.Logf("%d accounts × %d messages at %d/m each, 3 workers: per-account rate min %.1f/m median %.1f/m max %.1f/m; "+
		"Redis %.0f µs CPU and %.1f commands per sent message; idle worker: %.0f commands/s with 1 account, %.0f with %d",
		n, per, budget, rates[0], rates[len(rates)/2], rates[len(rates)-1],
		(cpu1-cpu0)/float64(len(ids))*1e6, float64(c1-c0)/float64(len(ids)), idleOne, idleAll, n)
}
