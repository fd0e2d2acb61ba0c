package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// These tests run the real binary, as operators do: worker processes on one
// Redis against the sandbox, killed and restarted. They take minutes (asynq
// brings a killed worker's tasks back only after its 30 s lease and the next
// recoverer pass), so -short skips them.

var binary string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "sendq-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "sendq")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build sendq: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// fleet is a sandbox, a Redis database and the worker processes started on them.
type fleet struct {
	t        *testing.T
	rdb      redis.UniversalClient
	redisURL string
	sandbox  *whautomatetest.Server
	producer *producer.Producer
	env      []string
	logs     []string // the worker processes' log files
}

func newFleet(t *testing.T, slot int, opts whautomatetest.Options, env ...string) *fleet {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	return fleetOn(t, redistest.Client(t, slot), redistest.URL(t, slot), opts, env...)
}

// fleetOn is newFleet on a given Redis.
func fleetOn(t *testing.T, rdb redis.UniversalClient, url string, opts whautomatetest.Options, env ...string) *fleet {
	t.Helper()
	opts.APIKey = "e2e-key"
	sb := whautomatetest.NewServer(opts)
	t.Cleanup(sb.Close)
	p, err := producer.New(producer.Config{Redis: rdb})
	require.NoError(t, err)
	base := []string{
		"PATH=" + os.Getenv("PATH"),
		"REDIS_URL=" + url,
		"WHAUTOMATE_BASE_URL=" + sb.URL(),
		"WHAUTOMATE_API_KEY=e2e-key",
		"WHAUTOMATE_RATE_LIMIT=0", // tests of the budget set their own
		"SENDQ_HTTP_ADDR=",
		"SENDQ_LOG_FORMAT=json",
	}
	return &fleet{t: t, rdb: rdb, redisURL: url, sandbox: sb, producer: p, env: append(base, env...)}
}

// start starts one `sendq worker` process; it is killed at the end of the test.
func (f *fleet) start(name string) *exec.Cmd {
	f.t.Helper()
	cmd := exec.Command(binary, "worker")
	cmd.Env = f.env
	dieWithTest(cmd)
	logf, err := os.Create(filepath.Join(f.t.TempDir(), name+".log"))
	require.NoError(f.t, err)
	f.logs = append(f.logs, logf.Name())
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(f.t, cmd.Start())
	f.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if f.t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			f.t.Logf("%s log (last 3000 bytes):\n%s", name, tail(b, 3000))
		}
	})
	return cmd
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// enqueue sends n templates on ch to distinct contacts "<prefix>-<i>".
func (f *fleet) enqueue(ch tasks.Channel, prefix string, n int) []string {
	f.t.Helper()
	ids := make([]string, n)
	for i := range n {
		m := template("", fmt.Sprintf("%s-%05d", prefix, i), ch)
		_, err := f.producer.Send(context.Background(), m)
		require.NoError(f.t, err)
		ids[i] = m.ID
	}
	return ids
}

// waitFinished waits until every id has a final state, and returns the
// count of each state.
func (f *fleet) waitFinished(ids []string, timeout time.Duration) map[producer.State]int {
	f.t.Helper()
	var counts map[producer.State]int
	defer func() {
		if f.t.Failed() {
			f.t.Logf("states when the wait ended: %v", counts)
		}
	}()
	poll.Eventually(f.t, func() bool {
		counts = map[producer.State]int{}
		done := true
		for _, id := range ids {
			o, err := f.producer.Status(context.Background(), id)
			if err != nil {
				counts["missing"]++
				done = false
				continue
			}
			counts[o.State]++
			done = done && o.State.Terminal()
		}
		return done
	}, timeout, 250*time.Millisecond, "not all finished")
	return counts
}

// sendsPerRecipient counts the sandbox's accepted sends per recipient.
func (f *fleet) sendsPerRecipient() map[string]int {
	n := map[string]int{}
	for _, s := range f.sandbox.Sent() {
		n[s.Recipient]++
	}
	return n
}

// tally counts lost messages (never sent) and messages sent more than once.
func (f *fleet) tally(ids []string) (lost, twice int) {
	per := f.sendsPerRecipient()
	for _, id := range ids {
		switch c := per[id]; {
		case c == 0:
			lost++
		case c > 1:
			twice++
		}
	}
	return lost, twice
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	poll.Eventually(t, cond, timeout, 20*time.Millisecond, what)
}

func TestSIGTERMDrainsAndSendsEachOnce(t *testing.T) {
	f := newFleet(t, 4, whautomatetest.Options{Latency: 300 * time.Millisecond},
		"SENDQ_CONCURRENCY=50", "SENDQ_RATE_WHATSAPP=0", "SENDQ_PACE_WHATSAPP=0", "SENDQ_SHUTDOWN_TIMEOUT=5s")
	ids := f.enqueue(tasks.WhatsApp, "term", 1000)
	a := f.start("worker-a")
	waitFor(t, "some sent", 60*time.Second, func() bool { return len(f.sandbox.Sent()) >= 200 })
	require.NoError(t, a.Process.Signal(syscall.SIGTERM))
	stopped := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- a.Wait() }()
	select {
	case err := <-exited:
		require.NoError(t, err, "a clean exit")
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not exit within its shutdown timeout")
	}
	t.Logf("SIGTERM: exited after %v", time.Since(stopped).Round(time.Millisecond))
	f.start("worker-b")
	counts := f.waitFinished(ids, 3*time.Minute)
	lost, twice := f.tally(ids)
	t.Logf("SIGTERM mid-run: %d messages, lost %d, sent twice %d; states %v", len(ids), lost, twice, counts)
	require.Zero(t, lost)
	require.Zero(t, twice, "a graceful shutdown sends nothing twice")
}

// TestCLIAgainstTheSandbox drives sendq as an operator does: `sendq send`,
// a `sendq worker` process, and `sendq status --json`.
func TestCLIAgainstTheSandbox(t *testing.T) {
	f := newFleet(t, 5, whautomatetest.Options{}, "SENDQ_PACE_WHATSAPP=0")
	env := map[string]string{"REDIS_URL": f.redisURL}
	f.sandbox.MarkInbound(tasks.WhatsApp, "c-open", "", time.Now())
	f.sandbox.Script(whautomatetest.Match{Recipient: "c-bad"}, whautomatetest.Answer{Status: 400,
		Body: `{"error":{"message":"(#131026) Message undeliverable","code":131026}}`})
	f.sandbox.Script(whautomatetest.Match{Recipient: "c-flaky"}, whautomatetest.Answer{Status: 503}, whautomatetest.Answer{Status: 503})
	f.sandbox.Script(whautomatetest.Match{Recipient: "c-busy"}, whautomatetest.Answer{Status: 429, RetryAfter: "2"})
	send := func(id, contact string, content ...string) {
		t.Helper()
		args := append([]string{"send", "--channel", "whatsapp", "--contact-id", contact, "--id", id}, content...)
		code, out, stderr := sendq(t, env, args...)
		require.Equal(t, 0, code, stderr)
		require.Equal(t, id+"\n", out)
	}
	tpl := []string{"--template", "order_update", "--language", "en", "--param", "Ada"}
	send("open", "c-open", "--text", "hello")
	send("bad", "c-bad", tpl...)
	send("flaky", "c-flaky", tpl...)
	send("busy", "c-busy", tpl...)
	send("busy", "c-busy", tpl...) // the same id again: nothing new
	f.start("worker")

	status := func(id string) map[string]any {
		code, out, stderr := sendq(t, env, "status", id, "--json")
		require.Equal(t, 0, code, stderr)
		var o map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &o))
		return o
	}
	final := func(id, state string) map[string]any {
		var o map[string]any
		waitFor(t, id+" "+state, 30*time.Second, func() bool { o = status(id); return o["state"] == state })
		return o
	}
	o := final("open", "sent")
	require.NotEmpty(t, o["upstream_id"])
	o = final("bad", "failed")
	require.Contains(t, o["error"], "undeliverable")
	require.Equal(t, 1, f.sandbox.CallsFor("c-bad"), "one call for a permanent error")
	o = final("flaky", "sent")
	require.Equal(t, 3, f.sandbox.CallsFor("c-flaky"))
	require.EqualValues(t, 3, o["attempts"])
	o = final("busy", "sent")
	require.EqualValues(t, 2, o["attempts"])
	require.Equal(t, 2, f.sandbox.CallsFor("c-busy"), "the 429, then the send; the duplicate id sent nothing")
	var at time.Time
	for _, s := range f.sandbox.Sent() {
		if s.Recipient == "c-busy" {
			at = s.At
		}
	}
	require.GreaterOrEqual(t, at.Sub(f.sandbox.FirstCall("c-busy")), 2*time.Second, "re-sent no sooner than Retry-After")
}

// TestCampaignStartKilledHalfWayAndRerun kills `sendq campaign start` in the
// middle, starts it again, then once more: the second start stores exactly
// the missing rows, the third none, and no worker has been fed anything of a
// start cut short.
func TestCampaignStartKilledHalfWayAndRerun(t *testing.T) {
	f := newFleet(t, 5, whautomatetest.Options{})
	const rows = 100000
	file := filepath.Join(t.TempDir(), "people.csv")
	var b strings.Builder
	b.WriteString("phone,name,param1\n")
	for i := range rows {
		fmt.Fprintf(&b, "+65%08d,Guest %d,%d\n", 90000000+i, i, i)
	}
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o600))
	args := []string{"campaign", "start", "--id", "big", "--file", file, "--channel", "whatsapp",
		"--template", "sale", "--language", "en", "--json"}

	cmd := exec.Command(binary, args...)
	cmd.Env = f.env
	require.NoError(t, cmd.Start())
	stored := func() int {
		c, err := f.producer.CampaignStatus(context.Background(), "big")
		if err != nil {
			return 0
		}
		return c.Total
	}
	waitFor(t, "a third stored", 60*time.Second, func() bool { return stored() >= rows/3 })
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	before := stored()
	require.Less(t, before, rows, "killed before the end")

	second := startWithEnv(t, f.env, args)
	require.Equal(t, rows, second["accepted"]+second["duplicates"])
	require.Equal(t, rows-before, second["accepted"], "exactly the rows the first start did not store")
	require.Equal(t, rows, stored(), "every row is stored once")
	third := startWithEnv(t, f.env, args)
	require.Equal(t, 0, third["accepted"])
	require.Equal(t, rows, third["duplicates"])
	c, err := f.producer.CampaignStatus(context.Background(), "big")
	require.NoError(t, err)
	require.Equal(t, rows, c.Total)
	require.Equal(t, map[producer.State]int{producer.StateQueued: rows}, c.Counts, "rows not fed read queued")
	require.Zero(t, f.rdb.LLen(context.Background(), "asynq:{sendq:whatsapp:bulk}:pending").Val(), "no worker ran: nothing is queued")
	t.Logf("killed with %d of %d stored; the rerun accepted %d (skipping %d); a third start accepted %d",
		before, rows, second["accepted"], second["duplicates"], third["accepted"])
}

func startWithEnv(t *testing.T, env, args []string) map[string]int {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	out, err := cmd.Output()
	require.NoError(t, err)
	var rep struct{ Accepted, Rejected, Duplicates int }
	require.NoError(t, json.Unmarshal(out, &rep))
	return map[string]int{"accepted": rep.Accepted, "rejected": rep.Rejected, "duplicates": rep.Duplicates}
}
