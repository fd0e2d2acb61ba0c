package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// page is a Messages answer listing ms.
func page(ms ...whautomate.Message) pageReply {
	return pageReply{page: &whautomate.MessagePage{Messages: ms, Page: 1}}
}

// wrote is a message the contact wrote on ch at at.
func wrote(ch tasks.Channel, at time.Time) whautomate.Message {
	return whautomate.Message{ID: "in-1", Channel: string(ch), Incoming: true, Text: "hi", Timestamp: at}
}

// TestWindow: a text waits for its contact's 24-hour window. Known
// closed, it is parked without a call (waiting_session, looked at again after
// a minute, or at its expiry if sooner); known open, it goes. Unknown for a
// contact id, the contact's latest messages are asked; for anything else, or
// when they tell nothing, the send is tried and its answer decides.
func TestWindow(t *testing.T) {
	phone := textMsg("m1", "")
	phone.To = tasks.Recipient{Phone: "+65 9876 5432"}
	client := textMsg("m1", "")
	client.To = tasks.Recipient{ClientID: "client-7"}
	telegram := textMsg("m1", "c1")
	telegram.Channel = tasks.Telegram
	expiring := textMsg("m1", "c1")
	expiring.ExpiresAt = chainEpoch.Add(20 * time.Second)
	const probe = "c1 1 25" // the window probe: the contact's latest 25 messages
	for _, tc := range []struct {
		name       string
		msg        tasks.Message
		wroteAgo   time.Duration // the contact's last inbound message on record (0: none)
		refusedAgo time.Duration // the upstream's last refusal on record (0: none)
		probe      []pageReply   // what the contact's latest messages show, if asked
		want       verdict
	}{
		{"KnownOpen", textMsg("m1", "c1"), time.Hour, 0, nil, done},
		{"KnownClosed", textMsg("m1", "c1"), 25 * time.Hour, 0, nil, deferred(time.Minute)},
		{"RefusedSinceTheContactWrote", textMsg("m1", "c1"), time.Hour, time.Minute, nil, deferred(time.Minute)},
		{"ParkedNoLongerThanItsExpiry", expiring, 25 * time.Hour, 0, nil, deferred(20 * time.Second)},
		{"ProbedOpen", textMsg("m1", "c1"), 0, 0, []pageReply{page(wrote(tasks.WhatsApp, chainEpoch.Add(-time.Hour)))}, done},
		{"ProbedClosed", textMsg("m1", "c1"), 0, 0, []pageReply{page(wrote(tasks.WhatsApp, chainEpoch.Add(-30*time.Hour)))}, deferred(time.Minute)},
		{"ProbedOnlyOutgoing", textMsg("m1", "c1"), 0, 0, []pageReply{page(whautomate.Message{ID: "out-1", Text: "hello",
			Timestamp: chainEpoch.Add(-time.Hour)})}, deferred(time.Minute)},
		{"ProbedWroteOnAnotherChannel", textMsg("m1", "c1"), 0, 0, []pageReply{page(wrote(tasks.Telegram, chainEpoch.Add(-time.Hour)))}, deferred(time.Minute)},
		{"ProbedNoHistory", textMsg("m1", "c1"), 0, 0, []pageReply{page()}, done},
		{"ProbeFails", textMsg("m1", "c1"), 0, 0, []pageReply{{err: upstream(t, whautomatetest.Answer{Status: 502})}}, done},
		{"UnknownPhoneIsTried", phone, 0, 0, nil, done},
		{"ClientIDIsTried", client, 0, 0, nil, done},
		{"TemplateIgnoresAClosedWindow", templateMsg("m1", "c1"), 25 * time.Hour, 0, nil, done},
		{"TelegramHasNoWindow", telegram, 0, 0, nil, done},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t)
			now := c.clock.Now()
			if tc.wroteAgo > 0 {
				c.inbound(t, "c1", now.Add(-tc.wroteAgo))
			}
			if tc.refusedAgo > 0 {
				require.NoError(t, c.sessions.RecordClosed(context.Background(), &tc.msg, now.Add(-tc.refusedAgo)))
			}
			c.api.show(tc.probe...)
			requireVerdict(t, tc.want, c.run(t, tc.msg))
			require.Len(t, c.api.probes(), len(tc.probe))
			for _, p := range c.api.probes() {
				require.Equal(t, probe, p)
			}
			r := c.record(t, "m1")
			if tc.want == done {
				require.Equal(t, outcome.Sent, r.State)
				require.Equal(t, 1, c.api.calls())
				return
			}
			require.Equal(t, outcome.WaitingSession, r.State)
			require.Zero(t, c.api.calls(), "a known-closed window costs no call")
			require.Zero(t, r.Attempts)
		})
	}
}

// TestProbeFindingIsKept: what the probe found serves the contact's next
// messages, which are not probed again.
func TestProbeFindingIsKept(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ago   time.Duration // the contact's last inbound message, as the probe shows it
		want  verdict
		calls int
	}{
		{"Open", time.Hour, done, 2},
		{"Closed", 30 * time.Hour, deferred(time.Minute), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t)
			c.api.show(page(wrote(tasks.WhatsApp, c.clock.Now().Add(-tc.ago))))
			requireVerdict(t, tc.want, c.run(t, textMsg("m1", "c1")))
			requireVerdict(t, tc.want, c.run(t, textMsg("m2", "c1")))
			require.Len(t, c.api.probes(), 1)
			require.Equal(t, tc.calls, c.api.calls())
		})
	}
}

// TestRefusedOutsideTheWindow: a text the upstream refuses as outside the
// window is parked after its one call; the contact's next messages are parked
// without one; once the contact writes it goes again, and each refusal
// doubles the time before it is looked at again unreleased.
func TestRefusedOutsideTheWindow(t *testing.T) {
	c := setup(t)
	outside := upstream(t, whautomatetest.Answer{Status: 400,
		Body: `{"error":{"message":"Re-engagement message","code":131047}}`})
	c.inbound(t, "c1", c.clock.Now().Add(-time.Hour)) // sendq believes the window open
	c.api.fail(outside, outside)
	task := c.enqueue(t, textMsg("m1", "c1"))

	requireVerdict(t, deferred(time.Minute), c.handle(task))
	r := c.record(t, "m1")
	require.Equal(t, outcome.WaitingSession, r.State)
	require.Equal(t, 1, r.Attempts)
	require.Contains(t, r.Error, "outside the 24-hour window")

	requireVerdict(t, deferred(time.Minute), c.run(t, textMsg("m2", "c1")))
	require.Equal(t, 1, c.api.calls(), "the next message is parked without a call")

	c.clock.Advance(time.Minute)
	c.inbound(t, "c1", c.clock.Now())
	c.clock.Advance(time.Millisecond)
	requireVerdict(t, deferred(2*time.Minute), c.handle(task))
	require.Equal(t, 2, c.record(t, "m1").Attempts)

	c.clock.Advance(time.Minute)
	c.inbound(t, "c1", c.clock.Now())
	requireVerdict(t, done, c.handle(task))
	r = c.record(t, "m1")
	require.Equal(t, outcome.Sent, r.State)
	require.Equal(t, 3, r.Attempts)
	require.Equal(t, 3, c.api.calls())
}

// TestContactWritesWhileTheRefusedCallIsOut: the contact's message arrives
// while the call that the upstream refuses as outside the window is out. The
// refusal is recorded as of the call's start, so the window reads open after
// it: the message comes back at once, its call counted, rather than wait for
// a message the contact already wrote (or, as before, end as done unsent).
func TestContactWritesWhileTheRefusedCallIsOut(t *testing.T) {
	c := setup(t)
	outside := upstream(t, whautomatetest.Answer{Status: 400,
		Body: `{"error":{"message":"Re-engagement message","code":131047}}`})
	c.inbound(t, "c1", c.clock.Now().Add(-time.Hour))
	c.api.answer(reply{err: outside, during: func() {
		c.clock.Advance(time.Second)
		c.inbound(t, "c1", c.clock.Now())
		c.clock.Advance(time.Second)
	}})
	requireVerdict(t, deferred(0), c.run(t, textMsg("m1", "c1")))
	r := c.record(t, "m1")
	require.Equal(t, outcome.Retrying, r.State, "neither sent nor parked: back at once")
	require.Equal(t, 1, r.Attempts, "the refused call is counted")
	require.Equal(t, 1, c.api.calls())

	c.api.answer(reply{})
	requireVerdict(t, done, c.run(t, textMsg("m1", "c1")))
	require.Equal(t, outcome.Sent, c.record(t, "m1").State)
	require.Equal(t, 2, c.api.calls())
}
