package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/msglimit"
	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// cli runs the sendq binary with the fleet's environment and returns its
// stdout; it fails the test unless it exits 0.
func (f *fleet) cli(args ...string) string {
	f.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = f.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(f.t, err, "sendq %s: %s", strings.Join(args, " "), stderr.String())
	return string(out)
}

// sendID sends one message with `sendq send ... --json` and returns its id.
func (f *fleet) sendID(args ...string) string {
	f.t.Helper()
	var r struct{ ID string }
	require.NoError(f.t, json.Unmarshal([]byte(f.cli(append([]string{"send", "--json"}, args...)...)), &r))
	return r.ID
}

// waitState waits until message id is in state, and returns its outcome.
func (f *fleet) waitState(id string, want producer.State, timeout time.Duration) *producer.Outcome {
	f.t.Helper()
	var o *producer.Outcome
	poll.Eventually(f.t, func() bool {
		var err error
		o, err = f.producer.Status(context.Background(), id)
		return err == nil && o.State == want
	}, timeout, 50*time.Millisecond, "message %s never reached %s (last: %+v)", id, want, o)
	return o
}

// TestOptOutCampaign (README "Compliance", must-be-true 1 and 2): a
// marketing campaign with a tenth of its recipients imported as opted out
// makes exactly the other nine tenths of calls, and the rest end
// suppressed, the campaign's counts adding up; `sendq optout add` stops
// marketing to a recipient while utility still goes, and `remove` lets it
// go again.
//
// SENDQ_TEST_OPTOUT_ROWS sets the campaign's size (default 2,000; the
// README's figure is 10,000).
func TestOptOutCampaign(t *testing.T) {
	rows := 2000
	if v := os.Getenv("SENDQ_TEST_OPTOUT_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		rows = n - n%10
	}
	f := newFleet(t, 3, whautomatetest.Options{},
		"SENDQ_CONCURRENCY=50", "SENDQ_RATE_WHATSAPP=0", "SENDQ_PACE_WHATSAPP=0")
	dir := t.TempDir()
	var people, opted strings.Builder
	people.WriteString("phone,name,param1\n")
	opted.WriteString("channel,phone\n")
	optedOut := map[string]bool{}
	for i := range rows {
		phone := fmt.Sprintf("65%08d", 80000000+i)
		fmt.Fprintf(&people, "+%s,Guest %d,%d\n", phone, i, i)
		if i%10 == 7 {
			fmt.Fprintf(&opted, "whatsapp,+%s\n", phone)
			optedOut[phone] = true
		}
	}
	peopleFile, optedFile := filepath.Join(dir, "people.csv"), filepath.Join(dir, "optouts.csv")
	require.NoError(t, os.WriteFile(peopleFile, []byte(people.String()), 0o600))
	require.NoError(t, os.WriteFile(optedFile, []byte(opted.String()), 0o600))
	f.cli("optout", "import", optedFile)

	f.start("worker")
	start := time.Now()
	f.cli("campaign", "start", "--id", "promo", "--file", peopleFile, "--channel", "whatsapp",
		"--template", "sale", "--language", "en", "--json")
	var c *producer.Campaign
	poll.Eventually(t, func() bool {
		var err error
		c, err = f.producer.CampaignStatus(context.Background(), "promo")
		return err == nil && c.State == "done"
	}, 5*time.Minute, 250*time.Millisecond, "campaign not done")
	took := time.Since(start)

	require.Equal(t, rows, c.Total)
	require.Equal(t, map[producer.State]int{producer.StateSent: rows * 9 / 10, producer.StateSuppressed: rows / 10}, c.Counts)
	sent := f.sandbox.Sent()
	require.Len(t, sent, rows*9/10, "exactly one call per recipient not opted out")
	for _, s := range sent {
		require.False(t, optedOut[s.Recipient], "a call to an opted-out recipient")
	}
	t.Logf("campaign of %d marketing rows, %d opted out: %d calls, %d suppressed, in %v",
		rows, len(optedOut), len(sent), c.Counts[producer.StateSuppressed], took.Round(100*time.Millisecond))

	t.Run("OptOutCommand", func(t *testing.T) {
		const phone = "+6591110000"
		marketing := []string{"--channel", "whatsapp", "--phone", phone, "--template", "sale", "--language", "en", "--category", "marketing"}
		utility := []string{"--channel", "whatsapp", "--phone", phone, "--template", "receipt", "--language", "en", "--category", "utility"}

		f.cli("optout", "add", "--channel", "whatsapp", "--phone", phone)
		require.Equal(t, "opted_out\n", f.cli("optout", "check", "--channel", "whatsapp", "--phone", phone))
		o := f.waitState(f.sendID(marketing...), producer.StateSuppressed, time.Minute)
		require.Equal(t, "opted_out", o.Reason)
		f.waitState(f.sendID(utility...), producer.StateSent, time.Minute)
		require.Equal(t, 1, f.sendsPerRecipient()["6591110000"], "the utility message only")

		f.cli("optout", "remove", "--channel", "whatsapp", "--phone", phone)
		f.waitState(f.sendID(marketing...), producer.StateSent, time.Minute)
		require.Equal(t, 2, f.sendsPerRecipient()["6591110000"])
	})
}

// TestMessagingLimitAcrossThreeWorkersAndRestarts (README "Compliance",
// must-be-true 4): at a messaging limit of 250, three worker processes
// given 400 conversation-opening templates to 400 new recipients send
// exactly 250, and hold 150 scheduled with reason messaging_limit;
// templates to recipients whose window is open go and do not count; after
// every worker and Redis restart, the count still holds: a new recipient
// waits.
func TestMessagingLimitAcrossThreeWorkersAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	ctx := context.Background()
	srv := startRedis(t)
	f := fleetOn(t, srv.client(t), srv.url(), whautomatetest.Options{Latency: 5 * time.Millisecond},
		"SENDQ_MESSAGING_LIMIT=250", "SENDQ_CONCURRENCY=50", "SENDQ_RATE_WHATSAPP=0", "SENDQ_PACE_WHATSAPP=0")
	for i := range 20 {
		_, err := f.producer.RecordInbound(ctx, "", tasks.WhatsApp, fmt.Sprintf("open-%05d", i), "", time.Now())
		require.NoError(t, err)
	}
	ids := f.enqueue(tasks.WhatsApp, "new", 400)
	open := f.enqueue(tasks.WhatsApp, "open", 20)
	var workers []*exec.Cmd
	for i := range 3 {
		workers = append(workers, f.start(fmt.Sprintf("worker-%d", i)))
	}
	limited := func(ids []string) (sent, held int) {
		for _, id := range ids {
			o, err := f.producer.Status(ctx, id)
			if err != nil {
				continue
			}
			switch {
			case o.State == producer.StateSent:
				sent++
			case o.State == producer.StateScheduled && o.Reason == "messaging_limit":
				held++
			}
		}
		return sent, held
	}
	var sent, held int
	poll.Eventually(t, func() bool {
		sent, held = limited(ids)
		return sent+held == 400
	}, 2*time.Minute, 250*time.Millisecond, "not all sent or held")
	f.waitFinished(open, time.Minute)
	require.Equal(t, 250, sent)
	require.Equal(t, 150, held)
	per := f.sendsPerRecipient()
	newSent := 0
	for _, id := range ids {
		newSent += per[id]
	}
	require.Equal(t, 250, newSent, "exactly 250 calls to new recipients")
	for _, id := range open {
		require.Equal(t, 1, per[id], "a recipient whose window is open goes")
	}
	counted := func() int {
		s, err := msglimit.New(f.rdb, msglimit.Config{})
		require.NoError(t, err)
		n, _, err := s.Usage(ctx, keys.Account(""), time.Now())
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 250, counted(), "open windows do not count")

	// Every worker and Redis restart; the count holds.
	for _, w := range workers {
		_ = w.Process.Kill()
		_ = w.Wait()
	}
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM)) // a clean shutdown writes the AOF
	_ = srv.cmd.Wait()
	srv.restart(t)
	require.Equal(t, 250, counted(), "the count survives a Redis restart")
	after := f.enqueue(tasks.WhatsApp, "after", 10)
	for i := range 3 {
		f.start(fmt.Sprintf("worker-again-%d", i))
	}
	poll.Eventually(t, func() bool {
		_, held := limited(after)
		return held == 10
	}, time.Minute, 250*time.Millisecond, "new recipients after the restarts are held")
	require.Len(t, f.sandbox.Sent(), 270, "no call past the limit after the restarts")
	t.Logf("limit 250, 3 workers: 400 new recipients → %d sent, %d held (messaging_limit); 20 open windows sent uncounted; after restarting every worker and Redis, 10 new recipients held, 0 sent",
		sent, held)
}
