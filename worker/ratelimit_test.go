package worker_test

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
	"github.com/sendq/sendq/worker"
)

func limits(c *worker.Config, ch tasks.Channel, channel, pace ratelimit.Limit) {
	c.Limits = map[tasks.Channel]ratelimit.Limit{ch: channel}
	c.RecipientLimits = map[tasks.Channel]ratelimit.Limit{ch: pace}
}

// sendTimes returns when the sandbox took in each send to recipient ("" for
// all), in order.
func (b *bundle) sendTimes(recipient string) []time.Time {
	var at []time.Time
	for _, s := range b.sandbox.Sent() {
		if recipient == "" || s.Recipient == recipient {
			at = append(at, s.At)
		}
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	return at
}

func TestRateLimits(t *testing.T) {
	ctx := context.Background()

	t.Run("OneContactIsPacedWhileOthersFlow", func(t *testing.T) {
		const pace = 200 * time.Millisecond
		b := setup(t, func(c *worker.Config) {
			limits(c, tasks.WhatsApp, ratelimit.Limit{Rate: 100, Per: time.Second}, ratelimit.Limit{Rate: 1, Per: pace})
		})
		for i := range 20 {
			_, err := b.producer.Send(ctx, template(fmt.Sprintf("one-%02d", i), "c-one"))
			require.NoError(t, err)
		}
		var others []string
		for i := range 200 {
			id := fmt.Sprintf("other-%03d", i)
			_, err := b.producer.Send(ctx, template(id, fmt.Sprintf("c-other-%03d", i)))
			require.NoError(t, err)
			others = append(others, id)
		}
		for i := range 20 {
			b.waitState(t, fmt.Sprintf("one-%02d", i), producer.StateSent, 30*time.Second)
		}
		one := b.sendTimes("c-one")
		require.Len(t, one, 20)
		for i := 1; i < len(one); i++ {
			// The slots are exactly pace apart in Redis time; an arrival
			// jitters by its own round trip and scheduling only, which does
			// not add up over sends.
			require.GreaterOrEqual(t, one[i].Sub(one[0]), time.Duration(i)*pace-100*time.Millisecond,
				"send %d came %v after the first", i, one[i].Sub(one[0]))
		}
		var last time.Time
		for _, id := range others {
			o := b.waitState(t, id, producer.StateSent, 10*time.Second)
			if o.SentAt.After(last) {
				last = o.SentAt
			}
		}
		t.Logf("20 to one contact over %v (pace %v); 200 to others done %v after the first send",
			one[19].Sub(one[0]).Round(time.Millisecond), pace, last.Sub(b.sendTimes("")[0]).Round(time.Millisecond))
		all := b.sendTimes("")
		perSec := map[int]int{}
		for _, a := range all {
			perSec[int(a.Sub(all[0]).Seconds())]++
		}
		t.Logf("sends per second: %v", perSec)
		require.True(t, last.Before(one[19]), "the others are not held behind the paced contact")
	})

	t.Run("A429CoolsTheChannelDownForEveryone", func(t *testing.T) {
		b := setup(t, func(c *worker.Config) {
			limits(c, tasks.WhatsApp, ratelimit.Limit{Rate: 100, Per: time.Second}, ratelimit.Limit{})
		})
		b.sandbox.Script(whautomatetest.Match{Recipient: "c-050"}, whautomatetest.Answer{Status: 429, RetryAfter: "3"})
		b.waitSent(t, b.sendTemplates(t, "m", 300), 30*time.Second)
		t429 := b.sandbox.FirstCall("c-050")
		var during []time.Duration
		for _, at := range b.sendTimes("") {
			// Requests already under way when the 429 came may still land
			// (allowing for a loaded machine); nothing after.
			if d := at.Sub(t429); d > 150*time.Millisecond && d < 3*time.Second {
				during = append(during, d)
			}
		}
		require.Empty(t, during, "sends during the cool-down")
		retried := b.sendTimes("c-050")
		require.Len(t, retried, 1)
		t.Logf("429 at %v; next send on the channel %v later; the 429'd message re-sent %v later",
			t429.Format("15:04:05.000"), firstAfter(b.sendTimes(""), t429.Add(150*time.Millisecond)).Sub(t429).Round(time.Millisecond),
			retried[0].Sub(t429).Round(time.Millisecond))
	})

	t.Run("ASaturatedChannelDoesNotDelayAnother", func(t *testing.T) {
		b := setup(t, func(c *worker.Config) {
			c.Limits = map[tasks.Channel]ratelimit.Limit{tasks.WhatsApp: {Rate: 20, Per: time.Second}}
			c.RecipientLimits = map[tasks.Channel]ratelimit.Limit{}
		})
		b.sendTemplates(t, "wa-", 500)
		poll.Eventually(t, func() bool { return b.sandbox.SentCount() >= 20 }, 10*time.Second, 10*time.Millisecond)
		at := time.Now()
		_, err := b.producer.Send(ctx, tasks.Message{ID: "tg", Channel: tasks.Telegram, Kind: tasks.KindTemplate,
			To: tasks.Recipient{ContactID: "t1"}, Template: &tasks.Template{Text: "your table is ready"}})
		require.NoError(t, err)
		o := b.waitState(t, "tg", producer.StateSent, 10*time.Second)
		info, err := b.ins.GetQueueInfo("sendq:whatsapp")
		require.NoError(t, err)
		require.Greater(t, info.Pending+info.Retry+info.Active, 100, "WhatsApp still has its backlog")
		t.Logf("telegram message sent %v after enqueue, behind a WhatsApp backlog of %d", o.SentAt.Sub(at).Round(time.Millisecond), info.Pending+info.Retry+info.Active)
	})
}

// TestALateSlotIsGivenUp runs a worker whose every step comes 40 ms after
// the last, as a process starved of CPU sees it: each slot it reserves on a
// limited channel has passed by more than the slack a send may take before
// it could crowd later slots at the receiver (25 ms at 50/s), so it gives
// the slot up and sends nothing there; on a channel with no limit the same
// worker sends.
func TestALateSlotIsGivenUp(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m, err := worker.NewMetrics(reg)
	require.NoError(t, err)
	var lag atomic.Int64
	b := setup(t, func(c *worker.Config) {
		c.Limits = map[tasks.Channel]ratelimit.Limit{tasks.WhatsApp: {Rate: 50, Per: time.Second}}
		c.RecipientLimits = map[tasks.Channel]ratelimit.Limit{}
		c.Metrics = m
		c.Now = func() time.Time { return time.Now().Add(time.Duration(lag.Add(int64(40 * time.Millisecond)))) }
	})
	_, err = b.producer.Send(ctx, template("wa", "c-wa"))
	require.NoError(t, err)
	_, err = b.producer.Send(ctx, tasks.Message{ID: "tg", Channel: tasks.Telegram, Kind: tasks.KindTemplate,
		To: tasks.Recipient{ContactID: "c-tg"}, Template: &tasks.Template{Text: "your table is ready"}})
	require.NoError(t, err)
	b.waitState(t, "tg", producer.StateSent, 10*time.Second)
	missed := func() float64 { return counter(t, reg, "sendq_limiter_slots_missed_total", "", "") }
	poll.Eventually(t, func() bool { return missed() >= 3 }, 10*time.Second, 10*time.Millisecond, "slots given up")
	require.Zero(t, b.sandbox.CallsFor("c-wa"), "nothing sent late on the limited channel")
	o, err := b.producer.Status(ctx, "wa")
	require.NoError(t, err)
	require.NotEqual(t, producer.StateFailed, o.State, "a missed slot is no failure")
	t.Logf("slots given up: %v; the message is %s", missed(), o.State)
}

// TestAProcessHoldsFewSlots runs one worker with 50 handlers on a channel
// limited to 50/s and 300 messages waiting, and asks Redis for a slot on the
// channel from outside, as another process would: the slot it gets is only a
// few intervals ahead, because the worker holds slots for about 50 ms of its
// traffic (its gate), not one for every handler. Without the gate the
// handlers hold a second of slots, and a stall of the process would lose
// them all.
func TestAProcessHoldsFewSlots(t *testing.T) {
	ctx := context.Background()
	limit := ratelimit.Limit{Rate: 50, Per: time.Second}
	b := setup(t, func(c *worker.Config) {
		c.Concurrency = 50
		limits(c, tasks.WhatsApp, limit, ratelimit.Limit{})
	})
	b.sendTemplates(t, "m", 300)
	other, err := ratelimit.New(b.rdb, ratelimit.Config{MaxWait: 5 * time.Second})
	require.NoError(t, err)
	// The worker spaces its slots 1 % wider (Headroom); asking with the same
	// limit reads the schedule the way the worker does.
	spaced := limit
	spaced.Per += time.Duration(float64(spaced.Per) * worker.Headroom)
	var ahead []time.Duration
	for n := 20; n <= 100; n += 20 {
		poll.Eventually(t, func() bool { return b.sandbox.SentCount() >= n }, 20*time.Second, 5*time.Millisecond)
		r, err := other.Reserve(ctx, ratelimit.Request{Key: string(tasks.WhatsApp), Limit: spaced, MaxWait: 5 * time.Second})
		require.NoError(t, err)
		require.True(t, r.OK)
		ahead = append(ahead, r.Delay)
	}
	t.Logf("a slot asked for from outside, after 20, 40, … 100 sends: %v ahead", ahead)
	for _, d := range ahead {
		// The gate holds 3 slots (60.6 ms); allow as much again for a
		// handler that missed its slot and holds the one it took instead.
		require.Less(t, d, 150*time.Millisecond, "slots the worker holds ahead")
	}
}

// TestAWaitAtTheGateEndsAtMaxBlock runs one worker on a channel limited to
// 10/s, whose gate holds 2 slots, with 20 messages and a MaxBlock of 300 ms.
// Every slot a handler in the gate asks for is within reach (two intervals
// ahead), so only the gate makes the others wait: those that do not get
// through by MaxBlock give their messages back to come later, rather than
// wait in place without bound, and every message is sent, at the limit.
func TestAWaitAtTheGateEndsAtMaxBlock(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := worker.NewMetrics(reg)
	require.NoError(t, err)
	b := setup(t, func(c *worker.Config) {
		c.Concurrency = 10
		c.MaxBlock = 300 * time.Millisecond
		c.Metrics = m
		limits(c, tasks.WhatsApp, ratelimit.Limit{Rate: 10, Per: time.Second}, ratelimit.Limit{})
	})
	b.waitSent(t, b.sendTemplates(t, "m", 20), 30*time.Second)
	at := b.sendTimes("")
	require.Len(t, at, 20)
	for i := 1; i < len(at); i++ {
		require.GreaterOrEqual(t, at[i].Sub(at[i-1]), 80*time.Millisecond, "sends %d and %d", i-1, i)
	}
	deferred := counter(t, reg, "sendq_handled_total", "result", "rate_limited")
	require.Positive(t, deferred, "runs that gave up waiting at the gate")
	t.Logf("20 messages at 10/s sent over %v; %v runs came back later", at[19].Sub(at[0]).Round(time.Millisecond), deferred)
}

// counter sums the series of the counter name in reg whose label is value
// (all of them when label is "").
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			match := label == ""
			for _, l := range s.GetLabel() {
				match = match || (l.GetName() == label && l.GetValue() == value)
			}
			if match {
				sum += s.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func firstAfter(ts []time.Time, t time.Time) time.Time {
	for _, x := range ts {
		if x.After(t) {
			return x
		}
	}
	return time.Time{}
}
