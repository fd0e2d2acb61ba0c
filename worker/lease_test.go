package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// TestClaimOfAFinishedMessage: a run of a message already finished (a
// duplicate task) leaves it as it is, without a call.
func TestClaimOfAFinishedMessage(t *testing.T) {
	for _, st := range []outcome.State{outcome.Sent, outcome.Failed, outcome.Expired} {
		t.Run(string(st), func(t *testing.T) {
			c := setup(t)
			m := templateMsg("m1", "c1")
			task := c.enqueue(t, m)
			_, err := c.outcomes.Finish(context.Background(), &m, "", outcome.Result{State: st, Error: "before"}, c.clock.Now())
			require.NoError(t, err)
			requireVerdict(t, done, c.handle(task))
			r := c.record(t, "m1")
			require.Equal(t, st, r.State)
			require.Equal(t, "before", r.Error)
			require.Zero(t, c.api.calls())
		})
	}
}

// TestAnotherRunHoldsTheLease: a run that finds the lease held by a run still
// under way (here, one whose call is out) comes back when that lease ends,
// without a call. The lease covers MaxBlock, two SendTimeouts and 5 s.
func TestAnotherRunHoldsTheLease(t *testing.T) {
	c := setup(t, func(c *Config) { c.SendTimeout = 2 * time.Second })
	lease := time.Millisecond + 2*2*time.Second + 5*time.Second
	task := c.enqueue(t, templateMsg("m1", "c1"))
	var second error
	c.api.answer(reply{id: "up-first", during: func() {
		c.clock.Advance(3 * time.Second)
		second = c.handle(task)
	}})
	requireVerdict(t, done, c.handle(task))
	requireVerdict(t, deferred(lease-3*time.Second), second)
	require.Equal(t, 1, c.api.calls())
	r := c.record(t, "m1")
	require.Equal(t, outcome.Sent, r.State)
	require.Equal(t, "up-first", r.UpstreamID)
	require.Equal(t, 1, r.Attempts)
}

// errCrash stands for a process that dies in the middle of a call.
var errCrash = errors.New("the process died")

// crash runs task with a call during which the process dies: the run never
// ends, and its lease stays until it runs out.
func (c *testChain) crash(t *testing.T, task *asynq.Task) {
	t.Helper()
	c.api.answer(reply{during: func() { panic(errCrash) }})
	defer func() { require.Equal(t, errCrash, recover()) }()
	_ = c.handle(task)
}

// TestLeaseOfARunThatDiedIsTakenOver: once the lease of a run that died
// mid-call has run out, the next run takes the message over and, since the
// call may have gone out, sends it again only after checking (a template
// cannot be checked: it is sent again).
func TestLeaseOfARunThatDiedIsTakenOver(t *testing.T) {
	c := setup(t)
	task := c.enqueue(t, templateMsg("m1", "c1"))
	c.crash(t, task)
	c.clock.Advance(time.Minute)
	requireVerdict(t, done, c.handle(task))
	require.Equal(t, 2, c.api.calls())
	r := c.record(t, "m1")
	require.Equal(t, outcome.Sent, r.State)
	require.Equal(t, 1, r.Attempts, "the call of the run that died was never recorded")
}

// TestClaimWithoutARecord: a task whose producer died before writing its
// record is recorded by the claim and sent.
func TestClaimWithoutARecord(t *testing.T) {
	c := setup(t)
	m := templateMsg("m1", "c1")
	m.CreatedAt = c.clock.Now()
	payload, err := tasks.Encode(&m)
	require.NoError(t, err)
	requireVerdict(t, done, c.handle(asynq.NewTask(m.Type(), payload)))
	r := c.record(t, "m1")
	require.Equal(t, outcome.Sent, r.State)
	require.Equal(t, "up-1", r.UpstreamID)
	require.Equal(t, 1, c.api.calls())
}

// TestEveryWaitGivesTheLeaseBack: a run that ends without finishing the
// message, before or after its call, gives the lease back: the next run,
// at once, is not sent back for the lease (which would last 35 s) but goes on
// to meet the wait again, or to send.
func TestEveryWaitGivesTheLeaseBack(t *testing.T) {
	unavailable := upstream(t, whautomatetest.Answer{Status: 503})
	tooMany := upstream(t, whautomatetest.Answer{Status: 429, RetryAfter: "3"})
	outside := upstream(t, whautomatetest.Answer{Status: 400,
		Body: `{"error":{"message":"Re-engagement message","code":131047}}`})
	perHour := withLimits(tasks.WhatsApp, ratelimit.Limit{Rate: 1, Per: time.Hour}, ratelimit.Limit{})
	for _, tc := range []struct {
		name   string
		opts   []func(*Config)
		msg    tasks.Message
		answer error // the call's, if any
		first  bool  // another message takes the channel's one slot first
		want   verdict
		again  verdict // the next run's
	}{
		{"TransientFailure", nil, templateMsg("m1", "c1"), unavailable, false, failure, done},
		{"UpstreamRateLimit", nil, templateMsg("m1", "c1"), tooMany, false, deferred(3 * time.Second), deferred(3 * time.Second)},
		{"RefusedOutsideTheWindow", nil, textMsg("m1", "c1"), outside, false, deferred(time.Minute), deferred(2 * time.Minute)},
		{"WindowKnownClosed", nil, textMsg("m1", "c-closed"), nil, false, deferred(time.Minute), deferred(time.Minute)},
		{"ChannelRateLimit", []func(*Config){perHour}, templateMsg("m1", "c1"), nil, true,
			deferred(time.Hour + time.Hour/100), deferred(time.Hour + time.Hour/100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t, tc.opts...)
			c.inbound(t, "c1", c.clock.Now().Add(-time.Hour))
			c.inbound(t, "c-closed", c.clock.Now().Add(-25*time.Hour))
			if tc.answer != nil {
				c.api.fail(tc.answer)
			}
			if tc.first {
				requireVerdict(t, done, c.run(t, templateMsg("first", "c0")))
			}
			task := c.enqueue(t, tc.msg)
			requireVerdict(t, tc.want, c.handle(task))
			requireVerdict(t, tc.again, c.handle(task))
		})
	}
}
