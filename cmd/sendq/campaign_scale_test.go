package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// These tests hold a campaign at scale to README "Campaigns": the Redis
// memory a waiting recipient costs, how fast `sendq campaign start` stores
// a file, and pause and cancel of a running campaign of that size.
//
// SENDQ_TEST_CAMPAIGN_ROWS sets the campaign's rows: 20,000 by default,
// enough that fixed overheads weigh little on the bytes per recipient; the
// README's figures are at 1,000,000:
//
//	SENDQ_TEST_CAMPAIGN_ROWS=1000000 go test -v -run 'TestCampaign(MemoryAndStart|PauseAndCancel)' ./cmd/sendq/

// phonePlan is a country's mobile numbers, +<code><prefix><digits more>,
// and the currency of its amounts.
type phonePlan struct {
	code, prefix, currency string
	digits                 int
}

var phonePlans = []phonePlan{
	{"65", "9", "SGD", 7},   // Singapore: +65 9xxx xxxx
	{"60", "12", "MYR", 7},  // Malaysia: +60 12-xxx xxxx
	{"62", "812", "IDR", 8}, // Indonesia: +62 812-xxxx-xxxx
	{"91", "98", "INR", 8},  // India: +91 98xxx xxxxx
	{"44", "77", "GBP", 8},  // United Kingdom: +44 77xx xxxxxx
	{"1", "415", "USD", 7},  // United States: +1 415 xxx xxxx
	{"61", "4", "AUD", 8},   // Australia: +61 4xx xxx xxx
	{"63", "917", "PHP", 7}, // Philippines: +63 917 xxx xxxx
}

// Names of 5 to 20 characters: a first name, or a first and a last name.
var (
	firstNames = []string{"Ahmad", "Wei Ling", "Siti", "Arjun", "Oliver", "Maria", "Nurul", "Hiroshi",
		"Priya", "Jose", "Mei Xin", "Aisyah", "Rahul", "Chloe", "Budi", "Grace"}
	lastNames = []string{"", "Tan", "Lim", "Rahman", "Sharma", "Smith", "Santos", "Wijaya", "Nguyen",
		"Fernandez", "Krishnan", "Ong"}
)

// campaignCSV writes a campaign file of n recipients as senders export
// them — phone, name and three template parameters (an order number, a
// date, an amount) — and returns its path and the last row's phone, as
// digits. The phones are distinct, of eight countries.
func campaignCSV(t *testing.T, n int) (path, last string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "recipients.csv")
	file, err := os.Create(path)
	require.NoError(t, err)
	defer file.Close()
	w := csv.NewWriter(bufio.NewWriterSize(file, 1<<20))
	require.NoError(t, w.Write([]string{"phone", "name", "param1", "param2", "param3"}))
	rnd := rand.New(rand.NewPCG(15, uint64(n)))
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rec := make([]string, 5)
	for i := range n {
		pl := phonePlans[i%len(phonePlans)]
		mod := 1
		for range pl.digits {
			mod *= 10
		}
		j := i / len(phonePlans)
		require.Less(t, j, mod, "SENDQ_TEST_CAMPAIGN_ROWS: too many rows for distinct phones")
		// j ↦ (j·7919 + c) mod 10^d is one to one: distinct, unordered numbers.
		rec[0] = fmt.Sprintf("+%s%s%0*d", pl.code, pl.prefix, pl.digits, (j*7919+1234567)%mod)
		rec[1] = strings.TrimSpace(firstNames[rnd.IntN(len(firstNames))] + " " + lastNames[rnd.IntN(len(lastNames))])
		rec[2] = fmt.Sprintf("ORD-%08d", rnd.IntN(100_000_000))
		rec[3] = day.AddDate(0, 0, rnd.IntN(120)).Format("2 Jan 2006")
		cents := rnd.IntN(250_000)
		rec[4] = fmt.Sprintf("%s %s.%02d", pl.currency, thousands(cents/100), cents%100)
		require.NoError(t, w.Write(rec))
		last = rec[0][1:]
	}
	w.Flush()
	require.NoError(t, w.Error())
	return path, last
}

// thousands writes n with commas between its thousands: 1,234.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// startCampaign runs `sendq campaign start` of file as campaign id and
// returns how long it took; every row must be stored.
func startCampaign(t *testing.T, f *fleet, id, file string, rows int) time.Duration {
	t.Helper()
	began := time.Now()
	out := f.cli("campaign", "start", "--id", id, "--file", file, "--channel", "whatsapp",
		"--template", "order_update", "--language", "en", "--json")
	took := time.Since(began)
	var rep struct{ Accepted, Rejected, Duplicates int }
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, rows, rep.Accepted, "every row stored: %s", out)
	require.Zero(t, rep.Rejected+rep.Duplicates, out)
	return took
}

// infoInt reads a number of section from Redis's INFO.
func infoInt(t *testing.T, rdb redis.UniversalClient, section, field string) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), section).Result()
	require.NoError(t, err)
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err, field)
			return n
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return 0
}

// keyUsage is the memory (MEMORY USAGE) of the keys of one kind.
type keyUsage struct {
	keys  int
	bytes int64
}

// campaignMemory sorts every key of a Redis holding one campaign by kind
// — the campaign's row chunks, its members set, the rest — with the memory
// each takes.
func campaignMemory(t *testing.T, rdb redis.UniversalClient, account, id string) (chunks, members, other keyUsage) {
	t.Helper()
	ctx := context.Background()
	space := keys.Account(account)
	chunk := strings.TrimSuffix(space.CampaignRows(id, 0), "0")
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		b, err := rdb.MemoryUsage(ctx, k, 0).Result()
		require.NoError(t, err)
		u := &other
		switch {
		case k == space.CampaignMembers(id):
			u = &members
		case strings.HasPrefix(k, chunk):
			u = &chunks
		}
		u.keys++
		u.bytes += b
	}
	require.NoError(t, iter.Err())
	return chunks, members, other
}

// TestCampaignMemoryAndStart starts a campaign of realistic rows with the
// real binary on a Redis of its own, no worker running (nothing is fed),
// and measures Redis's used_memory before and after: a waiting recipient
// costs at most 300 B (before rows were packed: 979 B). It reports how the
// memory splits between the rows' chunks and the members set, and the
// start's rows per second (measured, not asserted).
func TestCampaignMemoryAndStart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	n := envInt(t, "SENDQ_TEST_CAMPAIGN_ROWS", 20000)
	file, _ := campaignCSV(t, n)
	st, err := os.Stat(file)
	require.NoError(t, err)
	srv := startRedis(t, "--appendonly", "no")
	rdb := srv.client(t)
	f := fleetOn(t, rdb, srv.url(), whautomatetest.Options{})

	clients := infoInt(t, rdb, "clients", "connected_clients")
	before := infoInt(t, rdb, "memory", "used_memory")
	took := startCampaign(t, f, "scale", file, n)
	// The start's connections and their buffers are gone once it exits,
	// as soon as Redis has seen them close.
	poll.Eventually(t, func() bool { return infoInt(t, rdb, "clients", "connected_clients") <= clients },
		10*time.Second, 10*time.Millisecond, "the start's connections close")
	after := infoInt(t, rdb, "memory", "used_memory")

	c, err := f.producer.CampaignStatus(context.Background(), "scale")
	require.NoError(t, err)
	require.Equal(t, n, c.Total)
	require.Equal(t, map[producer.State]int{producer.StateQueued: n}, c.Counts, "every recipient waits")
	require.Zero(t, c.Fed, "nothing fed: no worker runs")
	chunks, members, other := campaignMemory(t, rdb, c.Account, "scale")
	require.Positive(t, chunks.keys)
	require.Equal(t, 1, members.keys)

	perRow := float64(after-before) / float64(n)
	t.Logf("campaign start of %d rows (CSV %.1f MB, %.0f B a row): %v, %.0f rows/s", n, float64(st.Size())/1e6,
		float64(st.Size())/float64(n), took.Round(time.Millisecond), float64(n)/took.Seconds())
	t.Logf("Redis used_memory %+d B: %.1f B per recipient (979 B when every row was a task and a record); "+
		"row chunks %.1f B/row (%d keys), members set %.1f B/row, other keys %d B (%d keys), not in MEMORY USAGE (the allocator rounds each of the set's 24-byte entries up to 32 B; fixed costs) %d B",
		after-before, perRow, float64(chunks.bytes)/float64(n), chunks.keys, float64(members.bytes)/float64(n),
		other.bytes, other.keys, after-before-chunks.bytes-members.bytes-other.bytes)
	require.LessOrEqual(t, perRow, 300.0, "Redis bytes per waiting recipient")
}

// campaignReport is `sendq campaign status --json`.
type campaignReport struct {
	State  string         `json:"state"`
	Total  int            `json:"total"`
	Counts map[string]int `json:"counts"`
}

func (f *fleet) campaignReport(id string) campaignReport {
	f.t.Helper()
	var r campaignReport
	require.NoError(f.t, json.Unmarshal([]byte(f.cli("campaign", "status", id, "--json")), &r))
	sum := 0
	for _, n := range r.Counts {
		sum += n
	}
	require.Equal(f.t, r.Total, sum, "the counts add up to the total: %+v", r)
	return r
}

// messageState is a message's state as `sendq status --json` tells it.
func (f *fleet) messageState(id string) string {
	f.t.Helper()
	var o struct{ State string }
	require.NoError(f.t, json.Unmarshal([]byte(f.cli("status", id, "--json")), &o))
	return o.State
}

// TestCampaignPauseAndCancel runs a campaign against the sandbox with two
// worker processes at a budget of 1,200 a minute, then pauses, resumes and
// cancels it with the CLI (README "Campaigns"):
//
//   - A row not fed yet reads queued in `sendq status`, and cancelled once
//     its campaign is.
//   - After pause returns, only sends already under way reach the sandbox:
//     those whose message was claimed (its campaign found running) before
//     it returned. Their last is reported.
//   - Cancel returns once nothing of the campaign is under way: no request
//     reaches the sandbox after it, and `status` shows cancelled = total −
//     sent, the sent ones being the sandbox's, the counts adding up. The
//     time cancel takes is reported.
func TestCampaignPauseAndCancel(t *testing.T) {
	n := envInt(t, "SENDQ_TEST_CAMPAIGN_ROWS", 20000)
	require.GreaterOrEqual(t, n, 1000, "SENDQ_TEST_CAMPAIGN_ROWS: the campaign outlasts the test")
	// Each answer takes latency: a send that reaches the sandbox after pause
	// returned is under way for longer than the test takes to look.
	const latency = 200 * time.Millisecond
	f := newFleet(t, 5, whautomatetest.Options{Latency: latency},
		"SENDQ_CONCURRENCY=50", "WHAUTOMATE_RATE_LIMIT=1200/m")
	ctx := context.Background()
	file, last := campaignCSV(t, n)
	f.start("worker-1")
	f.start("worker-2")
	const id = "spring"
	took := startCampaign(t, f, id, file, n)
	t.Logf("campaign start of %d rows with two workers running: %v, %.0f rows/s", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	waitFor(t, "the campaign sends", time.Minute, func() bool { return f.sandbox.SentCount() >= 40 })

	// The last row is not fed for minutes: it has no record, and reads queued.
	lastID := producer.CampaignMessageID(id, tasks.WhatsApp, tasks.Recipient{Phone: last})
	require.Equal(t, "queued", f.messageState(lastID))
	c, err := f.producer.CampaignStatus(ctx, id)
	require.NoError(t, err)
	require.Less(t, c.Fed, n, "the last row was not fed when it was read")
	outcomes, err := outcome.New(f.rdb, outcome.Config{})
	require.NoError(t, err)
	messageOf := func(s whautomatetest.Sent) string {
		return producer.CampaignMessageID(id, tasks.WhatsApp, tasks.Recipient{Phone: s.Recipient})
	}

	// Pause, and read at once which of the campaign's messages are under way.
	pausing := time.Now()
	f.cli("campaign", "pause", id)
	paused := time.Now()
	underWay, err := f.rdb.ZRange(ctx, keys.Account(c.Account).CampaignInflight(id), 0, -1).Result()
	require.NoError(t, err)
	require.Less(t, time.Since(paused), latency, "the sends under way were read before any that reached the sandbox after pause could end")
	before := f.sandbox.Sent()
	waitFor(t, "the sends under way end", 10*time.Second, func() bool {
		n, err := outcomes.InflightCampaign(ctx, c.Account, id, time.Now())
		return err == nil && n == 0
	})
	quiet := f.sandbox.SentCount()
	poll.Never(t, func() bool { return f.sandbox.SentCount() > quiet }, 2*time.Second, 50*time.Millisecond,
		"nothing is sent while the campaign is paused")
	require.Equal(t, "paused", f.campaignReport(id).State)
	claimed := map[string]bool{}
	for _, m := range underWay {
		claimed[m] = true
	}
	var late int
	var lastLate time.Duration
	for _, s := range f.sandbox.Sent() {
		if !s.At.After(paused) {
			continue
		}
		require.True(t, claimed[messageOf(s)], "a send %v after pause returned was not under way when it returned", s.At.Sub(paused))
		late++
		lastLate = max(lastLate, s.At.Sub(paused))
	}
	pace := float64(len(before)-1) / before[len(before)-1].At.Sub(before[0].At).Seconds()
	t.Logf("pause, at %.1f sends/s: returned in %v (the CLI process); %d of the campaign's messages under way then, %d of them reached the sandbox after it, the last %v after it returned",
		pace, paused.Sub(pausing).Round(time.Millisecond), len(underWay), late, lastLate.Round(time.Millisecond))

	f.cli("campaign", "resume", id)
	resumed := f.sandbox.SentCount()
	waitFor(t, "sends after resume", 30*time.Second, func() bool { return f.sandbox.SentCount() >= resumed+40 })

	began := time.Now()
	f.cli("campaign", "cancel", id)
	cancelled := time.Now()
	r := f.campaignReport(id)
	require.Equal(t, "cancelled", r.State)
	require.Equal(t, n, r.Total)
	require.Equal(t, r.Total-r.Counts["sent"], r.Counts["cancelled"], "cancelled = total − sent: %v", r.Counts)
	sent := f.sendsPerRecipient()
	require.Len(t, sent, r.Counts["sent"], "sent counts the sandbox's sends")
	require.Equal(t, "cancelled", f.messageState(lastID))

	// The workers drop the messages fed before the cancel; none is sent.
	ins := asynq.NewInspectorFromRedisClient(f.rdb)
	waitFor(t, "the fed messages dropped", time.Minute, func() bool {
		q, err := ins.GetQueueInfo(keys.Queue(string(tasks.WhatsApp), true))
		return err == nil && q.Pending+q.Active+q.Scheduled+q.Retry == 0
	})
	for _, req := range f.sandbox.Requests() {
		require.False(t, req.Channel != "" && req.At.After(cancelled), "a request %v after cancel returned", req.At.Sub(cancelled))
	}
	require.Equal(t, r.Counts, f.campaignReport(id).Counts, "the counts stay as cancel left them")
	twice := 0
	for _, calls := range f.sendsPerRecipient() {
		if calls > 1 {
			twice++
		}
	}
	require.Zero(t, twice, "recipients sent more than once")
	t.Logf("cancel of a campaign of %d rows: returned in %v (the CLI process, start to exit); then %v", n,
		cancelled.Sub(began).Round(time.Millisecond), r.Counts)
}
