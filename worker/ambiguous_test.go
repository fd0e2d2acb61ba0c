package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// TestAmbiguousSend: a message that may have gone out already — its call's
// answer was lost, or its run died holding the lease — is looked for among
// its contact's latest outgoing messages before it is sent again: found (the
// same text, sent since a minute before the message was created), it is
// recorded sent with that message's id and not sent again. Not found, not
// looked for (not a contact's text), or when the look fails, it is sent
// again: at least once.
func TestAmbiguousSend(t *testing.T) {
	lost := upstream(t, whautomatetest.Answer{Drop: true, Accept: true})
	text := textMsg("m1", "c1").Text
	outgoing := func(text string, at time.Time) whautomate.Message {
		return whautomate.Message{ID: "wamid-found", Channel: "whatsapp", Text: text, Timestamp: at}
	}
	echoed := outgoing(text, chainEpoch)
	echoed.Incoming = true
	phone := textMsg("m1", "")
	phone.To = tasks.Recipient{Phone: "+6598765432"}
	for _, tc := range []struct {
		name    string
		msg     tasks.Message
		crashed bool        // the first run died mid-call; else its answer was lost
		page    []pageReply // the contact's latest messages, when looked at
		found   bool
	}{
		{"Found", textMsg("m1", "c1"), false, []pageReply{page(outgoing(text, chainEpoch))}, true},
		{"FoundAfterACrashedRun", textMsg("m1", "c1"), true, []pageReply{page(outgoing(text, chainEpoch))}, true},
		{"NotFound", textMsg("m1", "c1"), false, []pageReply{page(outgoing("another text", chainEpoch))}, false},
		{"SameTextFromTheContact", textMsg("m1", "c1"), false, []pageReply{page(echoed)}, false},
		{"SameTextSentBeforeTheMessageWasMade", textMsg("m1", "c1"), false,
			[]pageReply{page(outgoing(text, chainEpoch.Add(-2*time.Minute)))}, false},
		{"LookFails", textMsg("m1", "c1"), false, []pageReply{{err: refused(t)}}, false},
		{"NotAContact", phone, false, nil, false},
		{"NotAContactAfterACrashedRun", phone, true, nil, false},
		{"NotAText", templateMsg("m1", "c1"), false, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t)
			c.inbound(t, "c1", c.clock.Now().Add(-time.Hour))
			task := c.enqueue(t, tc.msg)
			calls, attempts := 1, 1 // the first call, counted unless its run died
			if tc.crashed {
				c.crash(t, task)
				c.clock.Advance(time.Minute)
				attempts = 0
			} else {
				c.api.fail(lost)
				requireVerdict(t, failure, c.handle(task))
			}
			c.api.show(tc.page...)
			requireVerdict(t, done, c.handle(task))

			require.Len(t, c.api.probes(), len(tc.page))
			for _, p := range c.api.probes() {
				require.Equal(t, "c1 1 50", p)
			}
			upstreamID := "wamid-found"
			if !tc.found {
				calls, attempts = calls+1, attempts+1
				upstreamID = "up-1"
			}
			require.Equal(t, calls, c.api.calls())
			r := c.record(t, "m1")
			require.Equal(t, outcome.Sent, r.State)
			require.Equal(t, upstreamID, r.UpstreamID)
			require.Equal(t, attempts, r.Attempts)
		})
	}
}
