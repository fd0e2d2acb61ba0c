package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// These tests check campaigns fed at their account's pace (README
// "Campaigns") end to end: real worker processes, `sendq campaign start`
// and `sendq campaign status --json`, the sandbox counting every request.
// Their default sizes are CI's; the env knobs named in each test give the
// full ones.

// phoneCSV writes a campaign file of n rows to the phones +65<prefix>nnnnnn
// (prefix two digits), which the sandbox records as 65<prefix>nnnnnn.
func phoneCSV(t *testing.T, prefix, n int) string {
	t.Helper()
	require.Less(t, n, 1000000)
	var b strings.Builder
	b.WriteString("phone,name,param1\n")
	for i := range n {
		fmt.Fprintf(&b, "+65%02d%06d,Guest %d,%d\n", prefix, i, i, i)
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("rows-%d.csv", prefix))
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// startCampaign runs `sendq campaign start` of a WhatsApp campaign and
// returns the rows it accepted.
func (f *fleet) startCampaign(id, file string, extra ...string) int {
	f.t.Helper()
	args := append([]string{"campaign", "start", "--id", id, "--file", file, "--channel", "whatsapp", "--json"}, extra...)
	var rep struct{ Accepted, Rejected int }
	require.NoError(f.t, json.Unmarshal([]byte(f.cli(args...)), &rep))
	require.Zero(f.t, rep.Rejected)
	return rep.Accepted
}

// campaignStatus is what `sendq campaign status ID --json` prints.
type campaignStatus struct {
	State      string         `json:"state"`
	Total      int            `json:"total"`
	Counts     map[string]int `json:"counts"`
	Rate       float64        `json:"rate"`
	ETASeconds int            `json:"eta_seconds"`
}

func (f *fleet) campaignStatus(id string) campaignStatus {
	f.t.Helper()
	var c campaignStatus
	require.NoError(f.t, json.Unmarshal([]byte(f.cli("campaign", "status", id, "--json")), &c))
	return c
}

// startReady starts a worker process and waits until its servers (one per
// channel) have registered: from then on it takes tasks and feeds.
func (f *fleet) startReady(name string) *exec.Cmd {
	f.t.Helper()
	ins := asynq.NewInspectorFromRedisClient(f.rdb)
	before, err := ins.Servers()
	require.NoError(f.t, err)
	cmd := f.start(name)
	poll.Eventually(f.t, func() bool {
		servers, err := ins.Servers()
		return err == nil && len(servers) >= len(before)+len(tasks.Channels)
	}, 30*time.Second, 50*time.Millisecond, "the worker's servers register")
	return cmd
}

// logLines counts the lines of the fleet's worker logs that hold s.
func (f *fleet) logLines(s string) int {
	f.t.Helper()
	n := 0
	for _, path := range f.logs {
		b, err := os.ReadFile(path)
		require.NoError(f.t, err)
		n += strings.Count(string(b), s)
	}
	return n
}

// TestCampaignsShareTheBudgetFairly (issue 15, must-be-true 3): two
// accounts of 600 requests a minute each, three worker processes; account
// a runs two campaigns and b one, and each account sends a transactional
// message every 500 ms throughout. Every request of an account is checked
// against its budget in every sliding minute and second (README "Accounts"),
// refused ones included; a's two campaigns progress at equal rates; the
// transactional messages' latency (enqueue to the sandbox) is reported.
//
// SENDQ_TEST_FAIR_SECONDS (default 30) is how long the transactional
// messages go on, and SENDQ_TEST_FAIR_BUDGET (default 600) the accounts'
// budget a minute; the full run is SENDQ_TEST_FAIR_SECONDS=300.
func TestCampaignsShareTheBudgetFairly(t *testing.T) {
	seconds, budget := envInt(t, "SENDQ_TEST_FAIR_SECONDS", 30), envInt(t, "SENDQ_TEST_FAIR_BUDGET", 600)
	const txEvery = 500 * time.Millisecond // each account's transactional pace
	f := twoAccounts(t, budget)
	ctx := context.Background()

	// More rows than any campaign can send in the run, so that all three
	// send throughout.
	rows := budget*seconds/60 + 200
	campaigns := []struct {
		id, account string
		prefix      int
	}{{"a-one", "a", 81}, {"a-two", "a", 82}, {"b-one", "b", 83}}
	byPrefix := map[string]string{}
	for _, c := range campaigns {
		require.Equal(t, rows, f.startCampaign(c.id, phoneCSV(t, c.prefix, rows), "--account", c.account, "--template", "sale", "--language", "en"))
		byPrefix[fmt.Sprintf("65%d", c.prefix)] = c.id
	}
	started := time.Now()
	for i := range 3 {
		f.start(fmt.Sprintf("worker-%d", i))
	}

	// Each account's transactional messages, a and b in turn, on a ticker.
	enqueued := map[string]time.Time{}
	var ids []string
	tick := time.NewTicker(txEvery / 2)
	defer tick.Stop()
	for i := 0; time.Since(started) < time.Duration(seconds)*time.Second; i++ {
		<-tick.C
		acct := []string{"a", "b"}[i%2]
		m := template(acct, fmt.Sprintf("tx-%s-%05d", acct, i/2), tasks.WhatsApp)
		enqueued[m.ID] = time.Now()
		_, err := f.producer.Send(ctx, m)
		require.NoError(t, err)
		ids = append(ids, m.ID)
	}
	end := time.Now()
	f.waitFinished(ids, time.Minute)

	// Transactional latency, enqueue to the sandbox, per account.
	lat := map[string][]time.Duration{}
	for _, id := range ids {
		first := f.sandbox.FirstCall(id)
		require.False(t, first.IsZero(), "%s reached the sandbox", id)
		acct := strings.Split(id, "-")[1]
		lat[acct] = append(lat[acct], first.Sub(enqueued[id]))
	}
	for _, ds := range lat {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	}

	// Each campaign's sends over the same period, and at every second of
	// it: the widest gap between a's two campaigns.
	sent := map[string]int{}
	var gapMax int
	var gapAt time.Duration
	running := map[string]int{}
	all := f.sandbox.Sent()
	sort.SliceStable(all, func(i, j int) bool { return all[i].At.Before(all[j].At) })
	for _, s := range all {
		if s.At.After(end) {
			break
		}
		if id, ok := byPrefix[s.Recipient[:min(4, len(s.Recipient))]]; ok {
			sent[id]++
			running[id]++
			if g := running["a-one"] - running["a-two"]; abs(g) > gapMax {
				gapMax, gapAt = abs(g), s.At.Sub(started)
			}
		}
	}

	// Every request of each account, refused or not, in every sliding
	// minute and second.
	second := (budget+59)/60 + 1
	type window struct{ minute, tenSeconds, second, requests, in429 int }
	win := map[string]window{}
	for _, acct := range []string{"a", "b"} {
		idx := f.sandbox.KeyIndex("key-" + acct)
		var at []time.Time
		inRun := 0
		for _, r := range f.sandbox.Requests() {
			if r.Account == idx {
				at = append(at, r.At)
				if !r.At.After(end) {
					inRun++
				}
			}
		}
		sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
		win[acct] = window{whautomatetest.Busiest(at, time.Minute), whautomatetest.Busiest(at, 10*time.Second), whautomatetest.Busiest(at, time.Second),
			inRun, f.sandbox.Count429("key-" + acct)}
	}

	run := end.Sub(started)
	perMin := func(n int) float64 { return float64(n) / run.Minutes() }
	mean := float64(sent["a-one"]+sent["a-two"]) / 2
	t.Logf("%v, budget %d/m per account, 3 workers, transactional every %v per account; "+
		"a: %d requests (%.0f/m), a-one %d sent (%.1f/m), a-two %d (%.1f/m): %+.1f %% apart (widest gap %d, at %v); "+
		"b: %d requests (%.0f/m), b-one %d sent (%.1f/m); "+
		"busiest minute a %d b %d, busiest 10 s a %d b %d, busiest second a %d b %d (limit %d); 429s a %d b %d; "+
		"transactional enqueue→sandbox: a p50 %v p99 %v max %v (%d), b p50 %v p99 %v max %v (%d)",
		run.Round(time.Second), budget, txEvery,
		win["a"].requests, perMin(win["a"].requests), sent["a-one"], perMin(sent["a-one"]), sent["a-two"], perMin(sent["a-two"]),
		100*float64(sent["a-one"]-sent["a-two"])/mean, gapMax, gapAt.Round(100*time.Millisecond),
		win["b"].requests, perMin(win["b"].requests), sent["b-one"], perMin(sent["b-one"]),
		win["a"].minute, win["b"].minute, win["a"].tenSeconds, win["b"].tenSeconds, win["a"].second, win["b"].second, second,
		win["a"].in429, win["b"].in429,
		percentile(lat["a"], 0.5).Round(time.Millisecond), percentile(lat["a"], 0.99).Round(time.Millisecond),
		lat["a"][len(lat["a"])-1].Round(time.Millisecond), len(lat["a"]),
		percentile(lat["b"], 0.5).Round(time.Millisecond), percentile(lat["b"], 0.99).Round(time.Millisecond),
		lat["b"][len(lat["b"])-1].Round(time.Millisecond), len(lat["b"]))

	for _, acct := range []string{"a", "b"} {
		require.Zero(t, win[acct].in429, "no request of %s refused", acct)
		require.LessOrEqual(t, win[acct].minute, budget, "%s: no sliding minute over the budget", acct)
		require.LessOrEqual(t, win[acct].second, second, "%s: no sliding second over a minute's sixtieth and one", acct)
	}
	require.Positive(t, sent["a-one"])
	require.Positive(t, sent["b-one"])
	// a's campaigns take the room its backlog leaves in turn, an equal
	// share each, and their fed messages wait in one queue: at any moment
	// one may be ahead of the other by about one backlog (a feed lead of
	// 3 s at the budget: 30 at 600/m), a constant, not a proportion — the
	// widest gap seen over five minutes was 21. ±10 % is what the issue
	// asks; it is the bound once each campaign has sent many backlogs
	// (the full run: about 1,180 each), and one backlog is the bound before
	// that (CI's 30 s: about 118 each, where 30 is 25 %).
	backlog := int(math.Ceil(3 * float64(budget) / 60))
	tolerance := max(0.1*mean, float64(backlog))
	require.LessOrEqual(t, math.Abs(float64(sent["a-one"]-sent["a-two"])), tolerance,
		"a's two campaigns progress at equal rates: %d and %d", sent["a-one"], sent["a-two"])
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestCampaignSurvivesKillsAndARedisRestart (issue 15, must-be-true 4): a
// campaign sent by three worker processes on a Redis of the test's own,
// with AOF. Three times while it sends, every worker is killed with
// SIGKILL and started again; between the first and the second time, Redis
// is killed and restarted. At the end every recipient was reached, and
// `sendq campaign status` says done with the counts adding up.
//
// Redis runs with appendfsync everysec, as README "In production"
// recommends. Redis writes each command to the AOF (the kernel's cache)
// before it answers, so a killed Redis process loses nothing it
// acknowledged; only a machine crash loses up to the last second, and only
// a disk sync stalled for more than a second delays the write past the
// answer. appendfsync always would close those two at the cost of a disk
// sync per write, and a test cannot crash the machine: everysec tests
// what is deployed.
//
// Half the rows are texts to contacts whose window is open, half templates
// to phone numbers. A worker killed after the API took a send and before
// the worker recorded it leaves the send ambiguous (README "How it holds
// together"): the next run finds a contact's text among the contact's
// messages and does not send it again, so each contact is reached exactly
// once; a template to a phone number cannot be looked up (the API has no
// idempotency key), and is sent again: each phone is reached once, or
// twice when its first call was on the wire at a kill.
//
// A killed worker's tasks under way come back only after asynq's lease
// (30 s), its 30 s allowance for clock skew and the next recoverer pass
// (every minute): the campaign ends about a minute after the last kill,
// whatever its size.
//
// SENDQ_TEST_CRASH_ROWS (default 1,000; the figure 5,000) and
// SENDQ_TEST_CRASH_BUDGET (default 6,000 a minute: 100/s, so that the
// campaign is still sending at each kill) size the run.
func TestCampaignSurvivesKillsAndARedisRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	t.Parallel() // mostly waiting for asynq, on a server of its own: see TestFaults
	rows, budget := envInt(t, "SENDQ_TEST_CRASH_ROWS", 1000), envInt(t, "SENDQ_TEST_CRASH_BUDGET", 6000)
	const latency = 20 * time.Millisecond
	srv := startRedis(t)
	f := fleetOn(t, srv.client(t), srv.url(), whautomatetest.Options{Latency: latency},
		fmt.Sprintf("WHAUTOMATE_RATE_LIMIT=%d/m", budget), "SENDQ_CONCURRENCY=10")
	ctx := context.Background()

	// Even rows: a text to a contact whose window is open; odd rows: a
	// template to a phone number.
	var csv strings.Builder
	csv.WriteString("contact_id,phone,name,text,template,language\n")
	recipients := make([]string, rows)
	for i := range rows {
		if i%2 == 0 {
			recipients[i] = fmt.Sprintf("crash-%06d", i)
			f.sandbox.MarkInbound(tasks.WhatsApp, recipients[i], "", time.Now())
			fmt.Fprintf(&csv, "%s,,,Your code is %d,,\n", recipients[i], i)
		} else {
			recipients[i] = fmt.Sprintf("6584%06d", i)
			fmt.Fprintf(&csv, ",+%s,Guest %d,,sale,en\n", recipients[i], i)
		}
	}
	file := filepath.Join(t.TempDir(), "crash.csv")
	require.NoError(t, os.WriteFile(file, []byte(csv.String()), 0o600))
	require.Equal(t, rows, f.startCampaign("crash", file))
	started := time.Now()
	workers := make([]*exec.Cmd, 3)
	for i := range workers {
		workers[i] = f.start(fmt.Sprintf("worker-%d", i))
	}

	// The feed lease's holders, as the kills pass it on.
	lease := keys.Account(accounts.Default).FeedLease()
	holders := map[string]bool{}
	sampleLease := func() {
		if v, err := f.rdb.Get(ctx, lease).Result(); err == nil {
			holders[v] = true
		}
	}
	waitSent := func(n int) {
		t.Helper()
		poll.Eventually(t, func() bool { sampleLease(); return f.sandbox.SentCount() >= n },
			2*time.Minute, 10*time.Millisecond, "%d sent", n)
	}
	type kill struct{ from, to time.Time } // the signal sent, the process gone
	var kills []kill
	var b strings.Builder
	note := func(what string) {
		fmt.Fprintf(&b, "; %s at %v (%d sent)", what, time.Since(started).Round(100*time.Millisecond), f.sandbox.SentCount())
	}
	for round := range 3 {
		waitSent(rows * (2*round + 1) / 6) // a sixth, half, five sixths
		for i, w := range workers {
			k := kill{from: time.Now()}
			require.NoError(t, w.Process.Signal(syscall.SIGKILL))
			_ = w.Wait()
			k.to = time.Now()
			kills = append(kills, k)
			workers[i] = f.start(fmt.Sprintf("worker-%d-again-%d", i, round+1))
		}
		note(fmt.Sprintf("kill -9 of the 3 workers #%d", round+1))
		if round == 0 {
			waitSent(rows / 3)
			srv.kill(t)
			note("Redis SIGKILL")
			<-time.After(2 * time.Second) // the outage itself
			srv.restart(t)
			note("Redis restarted")
		}
	}
	lastKill := time.Now()
	require.Less(t, f.sandbox.SentCount(), rows, "the campaign was still sending at the last kill")

	var final campaignStatus
	poll.Eventually(t, func() bool {
		sampleLease()
		c, err := f.producer.CampaignStatus(ctx, "crash")
		if err != nil || c.State != "done" {
			return false
		}
		final = f.campaignStatus("crash")
		return true
	}, 5*time.Minute, 250*time.Millisecond, "the campaign ends done")
	took := time.Since(started)

	// Each recipient's calls; a call again is explained when the call
	// before it reached the sandbox while a worker was being killed (or
	// just before: the API's latency and the worker's recording of the
	// answer lie between the two).
	calls := map[string][]time.Time{}
	for _, s := range f.sandbox.Sent() {
		calls[s.Recipient] = append(calls[s.Recipient], s.At)
	}
	onTheWire := func(at time.Time) bool {
		for _, k := range kills {
			if !at.Before(k.from.Add(-latency-time.Second)) && !at.After(k.to) {
				return true
			}
		}
		return false
	}
	var lost, contactsTwice, phonesTwice, unexplained []string
	for i, r := range recipients {
		c := calls[r]
		switch {
		case len(c) == 0:
			lost = append(lost, r)
		case len(c) > 1 && i%2 == 0:
			contactsTwice = append(contactsTwice, r)
		case len(c) > 1:
			phonesTwice = append(phonesTwice, r)
			for _, at := range c[:len(c)-1] {
				if !onTheWire(at) {
					unexplained = append(unexplained, fmt.Sprintf("%s at %v", r, at.Sub(started).Round(time.Millisecond)))
				}
			}
		}
	}
	sum := 0
	for _, n := range final.Counts {
		sum += n
	}
	// The workers' word on the ambiguous sends (worker/ambiguous.go).
	found, resent := f.logLines("an earlier attempt had sent this message"), f.logLines("sending again (at-least-once)")
	unchecked := f.logLines("could not check whether an earlier attempt")
	t.Logf("%d rows (half contact texts, half phone templates) at %d/m, 3 workers, Redis AOF everysec%s; "+
		"done %v after the last kill, %v in all: %d calls; recipients lost %d, contacts reached twice %d, phones reached twice %d %v "+
		"(%d not on the wire at a kill); ambiguous sends: %d texts found already sent, %d templates sent again, %d texts not checked; "+
		"%d feeders seen holding the feed lease; status: %s, total %d, counts %v",
		rows, budget, b.String(), time.Since(lastKill).Round(100*time.Millisecond), took.Round(100*time.Millisecond),
		f.sandbox.SentCount(), len(lost), len(contactsTwice), len(phonesTwice), phonesTwice, len(unexplained),
		found, resent, unchecked, len(holders), final.State, final.Total, final.Counts)
	require.Empty(t, lost, "every recipient reached")
	require.Empty(t, contactsTwice, "no contact's text sent twice: an ambiguous one is looked up")
	require.Empty(t, unexplained, "a phone reached again only when its call was on the wire at a kill")
	require.Equal(t, "done", final.State)
	require.Equal(t, rows, final.Total)
	require.Equal(t, rows, sum, "the counts add up to the total")
	require.Equal(t, map[string]int{"sent": rows}, final.Counts)
}

// TestCampaignETA (issue 15, must-be-true 6): a campaign of one account
// with a budget and no other traffic, one worker process. Some time into
// the campaign, `sendq campaign status --json` gives eta_seconds; the time
// until the campaign is done is measured against it, and must be within
// ±10 % of it, give or take the half second eta_seconds loses by
// truncating to whole seconds.
//
// The full run is the issue's: SENDQ_TEST_ETA_ROWS=3000
// SENDQ_TEST_ETA_BUDGET=600 SENDQ_TEST_ETA_AFTER=60 (5 minutes; 4 left at
// the look). CI's default is 400 rows at 1,200 a minute looked at after
// 5 s: 20 s in all, 15 left. The error of the estimate is mostly a
// constant (the truncated second, the last send's round trip, the look's
// own), so what is left at the look must stay long against it: at 15 s,
// ±10 % is ±1.5 s. ETA readings every SENDQ_TEST_ETA_EVERY seconds
// (default 0: none) are reported too.
func TestCampaignETA(t *testing.T) {
	rows, budget := envInt(t, "SENDQ_TEST_ETA_ROWS", 400), envInt(t, "SENDQ_TEST_ETA_BUDGET", 1200)
	after := time.Duration(envInt(t, "SENDQ_TEST_ETA_AFTER", 5)) * time.Second
	every := time.Duration(envInt(t, "SENDQ_TEST_ETA_EVERY", 0)) * time.Second
	f := newFleet(t, 5, whautomatetest.Options{Latency: 5 * time.Millisecond, Budget: budget},
		fmt.Sprintf("WHAUTOMATE_RATE_LIMIT=%d/m", budget), "SENDQ_CONCURRENCY=50")
	ctx := context.Background()
	f.startReady("worker")
	file := phoneCSV(t, 85, rows)
	require.Equal(t, rows, f.startCampaign("eta", file, "--template", "sale", "--language", "en"))
	started := time.Now()

	type reading struct {
		at       time.Duration
		eta      int
		left     int
		readDone time.Time
	}
	read := func() reading {
		at := time.Since(started)
		c := f.campaignStatus("eta")
		require.Equal(t, "running", c.State)
		return reading{at: at, eta: c.ETASeconds, left: c.Total - c.Counts["sent"], readDone: time.Now()}
	}
	<-time.After(time.Until(started.Add(after))) // the campaign's first part, by design
	look := read()
	var later []reading
	var doneAt time.Time
	next := look.readDone.Add(every)
	poll.Eventually(t, func() bool {
		c, err := f.producer.CampaignStatus(ctx, "eta")
		if err == nil && c.State == "done" {
			doneAt = time.Now()
			return true
		}
		if every > 0 && time.Now().After(next) {
			later = append(later, read())
			next = next.Add(every)
		}
		return false
	}, time.Duration(2*rows)*time.Minute/time.Duration(budget)+time.Minute, 100*time.Millisecond, "the campaign ends")

	sent := f.sandbox.Sent()
	last := sent[len(sent)-1].At
	actual := doneAt.Sub(look.readDone)
	predicted := time.Duration(look.eta) * time.Second
	var b strings.Builder
	for _, r := range later {
		fmt.Fprintf(&b, "; at %v: eta %d s, actual %v", r.at.Round(time.Second), r.eta, doneAt.Sub(r.readDone).Round(100*time.Millisecond))
	}
	t.Logf("%d rows at %d/m, 1 worker: after %v, %d left, eta_seconds %d; done %v later (last send %v later): %+.1f %%; "+
		"the whole campaign %v (%.1f/m)%s",
		rows, budget, look.at.Round(100*time.Millisecond), look.left, look.eta, actual.Round(100*time.Millisecond),
		last.Sub(look.readDone).Round(100*time.Millisecond), 100*(predicted.Seconds()-actual.Seconds())/actual.Seconds(),
		doneAt.Sub(started).Round(100*time.Millisecond), float64(rows)/doneAt.Sub(started).Minutes(), b.String())
	require.Len(t, sent, rows)
	// eta_seconds is whole seconds, truncated: up to a second short.
	require.InDelta(t, actual.Seconds(), predicted.Seconds()+0.5, 0.1*actual.Seconds()+0.5,
		"eta_seconds %d against %v actually left", look.eta, actual)
}
