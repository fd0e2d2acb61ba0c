package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// TestSlot: a message waits for its channel's rate limit and its recipient's
// pace (both spaced by Headroom). A slot within reach is waited for in place;
// a channel slot past MaxBlock, or a recipient's pace past the horizon,
// brings the message back when it is due, without a call or an attempt used.
func TestSlot(t *testing.T) {
	perMinute := ratelimit.Limit{Rate: 1, Per: time.Minute}
	sixSeconds := ratelimit.Limit{Rate: 1, Per: 6 * time.Second}
	for _, tc := range []struct {
		name    string
		channel ratelimit.Limit
		pace    ratelimit.Limit
		to      string // the second message's contact; the first goes to c1
		want    verdict
	}{
		{"ChannelRatePastMaxBlock", perMinute, ratelimit.Limit{}, "c2", deferred(time.Minute + time.Minute/100)},
		{"RecipientPacePastTheHorizon", ratelimit.Limit{}, sixSeconds, "c1", deferred(6*time.Second + 6*time.Second/100)},
		{"AnotherRecipientIsNotPaced", ratelimit.Limit{}, sixSeconds, "c2", done},
		// 200/s: the next slot is 5.05 ms away, within the horizon: the run
		// waits for it (those few ms of real time) and sends.
		{"SlotWithinReachIsWaitedFor", ratelimit.Limit{Rate: 200, Per: time.Second}, ratelimit.Limit{}, "c2", done},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t, withLimits(tasks.WhatsApp, tc.channel, tc.pace))
			requireVerdict(t, done, c.run(t, templateMsg("m1", "c1")))
			c.requireNext(t, tc.to, tc.want)
		})
	}
}

// TestCoolDown: an answer that asks the channel, or one recipient, to slow
// down holds the next message too, without a call, until it ends: a 429 for
// its Retry-After (1 s without one), a configuration error or an account
// block for Hold, a recipient's pair-rate limit for 1 s, that recipient only.
func TestCoolDown(t *testing.T) {
	const hold = 45 * time.Second
	meta := func(status int, body string) error {
		return upstream(t, whautomatetest.Answer{Status: status, Body: body})
	}
	pairRate := meta(400, `{"error":{"message":"Spam rate limit hit","code":131056}}`)
	for _, tc := range []struct {
		name   string
		answer error         // the first message's, to c1
		cools  time.Duration // the cool-down it sets
		to     string        // the next message's contact
		want   verdict
	}{
		{"TooManyRequestsWithRetryAfter", upstream(t, whautomatetest.Answer{Status: 429, RetryAfter: "7"}),
			7 * time.Second, "c2", deferred(7 * time.Second)},
		{"TooManyRequestsWithoutRetryAfter", upstream(t, whautomatetest.Answer{Status: 429}),
			time.Second, "c2", deferred(time.Second)},
		{"HoldAfterForbidden", meta(403, `{"message":"Forbidden"}`), hold, "c2", held},
		{"HoldAfterUnauthorized", upstream(t, whautomatetest.Answer{Status: 401}), hold, "c2", held},
		{"HoldAfterAccountBlock", meta(400, `{"error":{"message":"Blocked","code":131031}}`), hold, "c2", held},
		{"PairRateHoldsThatRecipient", pairRate, time.Second, "c1", deferred(time.Second)},
		{"PairRateSparesOthers", pairRate, time.Second, "c2", done},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t, func(c *Config) { c.Hold = hold })
			c.api.fail(tc.answer)
			requireVerdict(t, deferred(tc.cools), c.run(t, templateMsg("m1", "c1")))
			c.requireNext(t, tc.to, tc.want, tc.cools)
		})
	}
}

// requireNext runs a second message, m2 to contact to, after a first message
// that made one call, and requires the verdict want. Deferred, m2 must have
// made no call nor used an attempt, and go once the clock reaches its delay.
func (c *testChain) requireNext(t *testing.T, to string, want verdict, hold ...time.Duration) {
	t.Helper()
	c.requireAfter(t, templateMsg("m2", to), want, hold...)
}

// held is the verdict of a message that meets a hold: it comes back within
// the hold's re-check, and goes (as the hold's probe) once the hold ends.
var held = deferred(2 * time.Second)

// requireAfter is requireNext for any second message m2. A held m2 is
// checked again until the first message's hold (hold) ends.
func (c *testChain) requireAfter(t *testing.T, m2 tasks.Message, want verdict, hold ...time.Duration) {
	t.Helper()
	task := c.enqueue(t, m2)
	requireVerdict(t, want, c.handle(task))
	if want == done {
		require.Equal(t, 2, c.api.calls())
		return
	}
	require.Equal(t, 1, c.api.calls(), "no call before it is due")
	r := c.record(t, "m2")
	require.Equal(t, outcome.Queued, r.State)
	require.Zero(t, r.Attempts)
	wait := want.in
	if want == held {
		wait = hold[0]
	}
	c.clock.Advance(wait)
	requireVerdict(t, done, c.handle(task))
	require.Equal(t, 2, c.api.calls())
}

// TestAccount: the account's budget, cool-downs and holds reach every channel
// of the account; a channel's own cool-down or block reaches that channel
// only. The first message goes on WhatsApp, the next on Telegram.
func TestAccount(t *testing.T) {
	const hold = 45 * time.Second
	perMinute := ratelimit.Limit{Rate: 1, Per: time.Minute}
	meta := func(status int, body string) error {
		return upstream(t, whautomatetest.Answer{Status: status, Body: body})
	}
	telegram := tasks.Message{ID: "m2", Channel: tasks.Telegram, Kind: tasks.KindTemplate,
		To: tasks.Recipient{ContactID: "c2"}, Template: &tasks.Template{Text: "Welcome"}}
	for _, tc := range []struct {
		name   string
		budget ratelimit.Limit
		answer error         // the first message's (nil: sent)
		cools  time.Duration // the first message's deferral (0: sent)
		want   verdict       // the Telegram message's
	}{
		{"BudgetSpentOnAnotherChannel", perMinute, nil, 0, deferred(time.Minute + time.Minute/100)},
		{"BudgetLeft", ratelimit.Limit{Rate: 2, Per: time.Millisecond}, nil, 0, done},
		{"TooManyRequestsCoolsTheAccount", ratelimit.Limit{},
			upstream(t, whautomatetest.Answer{Status: 429, RetryAfter: "7"}), 7 * time.Second, deferred(7 * time.Second)},
		{"MetaThroughputCoolsTheChannelOnly", ratelimit.Limit{},
			meta(400, `{"error":{"message":"Rate limit hit","code":130429}}`), time.Second, done},
		{"ForbiddenHoldsTheAccount", ratelimit.Limit{}, meta(403, `{"message":"Forbidden"}`), hold, held},
		{"InvalidLocationHoldsTheAccount", ratelimit.Limit{}, meta(404, `{"error":"Invalid locationId"}`), hold, held},
		{"AccountBlockHoldsTheChannelOnly", ratelimit.Limit{},
			meta(400, `{"error":{"message":"Blocked","code":131031}}`), hold, done},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t, func(c *Config) { c.Hold, c.Budget = hold, tc.budget })
			first := done
			if tc.answer != nil {
				c.api.fail(tc.answer)
				first = deferred(tc.cools)
			}
			requireVerdict(t, first, c.run(t, templateMsg("m1", "c1")))
			c.requireAfter(t, telegram, tc.want, hold)
		})
	}
}

// TestHoldProbe: after a refused key, the account waits; once the hold
// ends, one message at a time goes as its probe. A refused probe holds the
// account again; one the upstream takes lifts the hold for every message.
func TestHoldProbe(t *testing.T) {
	const hold = 5 * time.Second
	forbidden := upstream(t, whautomatetest.Answer{Status: 403, Body: `{"message":"Forbidden"}`})
	c := setup(t, func(c *Config) { c.Hold = hold })
	c.api.fail(forbidden)
	requireVerdict(t, deferred(hold), c.run(t, templateMsg("m1", "c1")))
	m2, m3 := c.enqueue(t, templateMsg("m2", "c2")), c.enqueue(t, templateMsg("m3", "c3"))
	requireVerdict(t, held, c.handle(m2))

	c.clock.Advance(hold)
	c.api.fail(forbidden) // the key is still refused: the probe holds again
	requireVerdict(t, deferred(hold), c.handle(m2))
	require.Equal(t, 2, c.api.calls(), "one probe")
	requireVerdict(t, held, c.handle(m3))

	c.clock.Advance(hold) // the key works again: the next probe lifts the hold
	requireVerdict(t, done, c.handle(m3))
	requireVerdict(t, done, c.handle(m2)) // lifted: the others go at once
	require.Equal(t, 4, c.api.calls())
}

// TestALookUpTakesABudgetSlot: the window probe is a request of the account
// like a send: with one slot a minute, the probe takes it and the send waits
// for the next.
func TestALookUpTakesABudgetSlot(t *testing.T) {
	c := setup(t, func(c *Config) { c.Budget = ratelimit.Limit{Rate: 1, Per: time.Minute} })
	c.api.show(page(wrote(tasks.WhatsApp, chainEpoch.Add(-time.Hour))))
	requireVerdict(t, deferred(time.Minute+time.Minute/100), c.run(t, textMsg("m1", "c1")))
	require.Len(t, c.api.probes(), 1)
	require.Zero(t, c.api.calls(), "the send waits for the next slot")
	c.clock.Advance(time.Minute + time.Minute/100)
	requireVerdict(t, done, c.run(t, textMsg("m1", "c1")))
	require.Equal(t, 1, c.api.calls())
}
