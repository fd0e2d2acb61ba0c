package worker_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/worker"
)

func textTo(id string, to tasks.Recipient) tasks.Message {
	return tasks.Message{ID: id, Channel: tasks.WhatsApp, Kind: tasks.KindText, To: to, Text: "hello " + id}
}

func TestSessionWindow(t *testing.T) {
	ctx := context.Background()

	t.Run("UnknownPhoneWaitsAfterOneCallAndGoesWhenTheContactWrites", func(t *testing.T) {
		b := setup(t)
		const n = 100
		for i := range n {
			_, err := b.producer.Send(ctx, textTo(fmt.Sprintf("m%03d", i), tasks.Recipient{Phone: fmt.Sprintf("+6590%06d", i)}))
			require.NoError(t, err)
		}
		for i := range n {
			b.waitState(t, fmt.Sprintf("m%03d", i), producer.StateWaitingSession, 20*time.Second)
			require.Equal(t, 1, b.sandbox.CallsFor(fmt.Sprintf("6590%06d", i)), "at most one call before waiting")
		}
		// Each contact writes: the sandbox posts the webhook to the worker.
		wrote := make([]time.Time, n)
		for i := range n {
			wrote[i] = time.Now()
			b.sandbox.MarkInbound(tasks.WhatsApp, "", fmt.Sprintf("6590%06d", i), wrote[i])
		}
		lat := make([]time.Duration, n)
		for i := range n {
			o := b.waitState(t, fmt.Sprintf("m%03d", i), producer.StateSent, 20*time.Second)
			require.Equal(t, 2, o.Attempts)
			lat[i] = o.SentAt.Sub(wrote[i])
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		t.Logf("webhook to sent over %d messages: p50 %v, p99 %v, max %v", n, lat[n/2], lat[n*99/100], lat[n-1])
	})

	t.Run("WaitingMessageExpiresWithoutAnotherCall", func(t *testing.T) {
		b := setup(t)
		m := textTo("m1", tasks.Recipient{Phone: "+6598765432"})
		m.ExpiresAt = time.Now().Add(2 * time.Second)
		_, err := b.producer.Send(ctx, m)
		require.NoError(t, err)
		b.waitState(t, "m1", producer.StateWaitingSession, 10*time.Second)
		b.waitState(t, "m1", producer.StateExpired, 15*time.Second)
		// A late inbound releases nothing and calls nothing.
		b.sandbox.MarkInbound(tasks.WhatsApp, "", "6598765432", time.Now())
		require.Equal(t, 1, b.sandbox.CallsFor("6598765432"))
	})

	t.Run("WaitingUsesNoRetryAttempt", func(t *testing.T) {
		// A single attempt: if any wait used it, the message would fail.
		b := setup(t, func(c *worker.Config) { c.MaxAttempts = 1 })
		_, err := b.producer.Send(ctx, textTo("m1", tasks.Recipient{ContactID: "c1"}))
		require.NoError(t, err)
		// Sendq learns of inbound messages the upstream does not know of:
		// each release ends in a refused call and a new wait.
		for round := 1; round <= 3; round++ {
			b.waitState(t, "m1", producer.StateWaitingSession, 10*time.Second)
			info, err := b.ins.GetTaskInfo(keys.Queue("whatsapp", false), "m1")
			require.NoError(t, err)
			require.Zero(t, info.Retried, "round %d", round)
			calls := b.sandbox.CallsFor("c1")
			_, err = b.producer.RecordInbound(ctx, "", tasks.WhatsApp, "c1", "", time.Now())
			require.NoError(t, err)
			poll.Eventually(t, func() bool { return b.sandbox.CallsFor("c1") > calls }, 10*time.Second, 10*time.Millisecond)
		}
		b.waitState(t, "m1", producer.StateWaitingSession, 10*time.Second)
		b.sandbox.MarkInbound(tasks.WhatsApp, "c1", "", time.Now())
		b.waitState(t, "m1", producer.StateSent, 10*time.Second)
	})

	t.Run("ClientIDIsRecheckedByTryingAgain", func(t *testing.T) {
		// No inbound event names a client id: its window is learnt by trying.
		b := setup(t, func(c *worker.Config) { c.Recheck = time.Second })
		_, err := b.producer.Send(ctx, textTo("m1", tasks.Recipient{ClientID: "client-7"}))
		require.NoError(t, err)
		b.waitState(t, "m1", producer.StateWaitingSession, 10*time.Second)
		b.sandbox.MarkInbound(tasks.WhatsApp, "client-7", "", time.Now()) // the sandbox's contact for the client
		o := b.waitState(t, "m1", producer.StateSent, 15*time.Second)
		require.GreaterOrEqual(t, o.Attempts, 2)
	})

	t.Run("TemplatesAreNeverHeldBack", func(t *testing.T) {
		b := setup(t)
		_, err := b.producer.Send(ctx, textTo("text", tasks.Recipient{ContactID: "c1"}))
		require.NoError(t, err)
		b.waitState(t, "text", producer.StateWaitingSession, 10*time.Second)
		_, err = b.producer.Send(ctx, template("tpl", "c1"))
		require.NoError(t, err)
		b.waitState(t, "tpl", producer.StateSent, 10*time.Second)
	})

	t.Run("WebhookReleasesOnlyThatContactInEnqueueOrder", func(t *testing.T) {
		// One at a time, so that the order of sends shows the order of release.
		b := setup(t, func(c *worker.Config) { c.Concurrency = 1 })
		const contacts = 1000
		for i := range contacts {
			_, err := b.producer.RecordInbound(ctx, "", tasks.WhatsApp, fmt.Sprintf("c%04d", i), "", time.Now().Add(-25*time.Hour))
			require.NoError(t, err)
		}
		var ids []string
		for i := range contacts {
			id := fmt.Sprintf("w%04d", i)
			_, err := b.producer.Send(ctx, textTo(id, tasks.Recipient{ContactID: fmt.Sprintf("c%04d", i)}))
			require.NoError(t, err)
			ids = append(ids, id)
		}
		var mine []string
		for k := range 5 {
			id := fmt.Sprintf("x%d", k)
			_, err := b.producer.Send(ctx, textTo(id, tasks.Recipient{ContactID: "c0500"}))
			require.NoError(t, err)
			mine = append(mine, id)
		}
		for _, id := range append(ids, mine...) {
			b.waitState(t, id, producer.StateWaitingSession, 60*time.Second)
		}
		require.Zero(t, len(b.sandbox.Sent()), "known-closed windows cost no call")

		b.sandbox.MarkInbound(tasks.WhatsApp, "c0500", "", time.Now())
		for _, id := range append([]string{"w0500"}, mine...) {
			b.waitState(t, id, producer.StateSent, 10*time.Second)
		}
		var order []string
		for _, s := range b.sandbox.Sent() {
			require.Equal(t, "c0500", s.Recipient)
			order = append(order, string(s.Body))
		}
		require.Len(t, order, 6)
		for i, id := range append([]string{"w0500"}, mine...) {
			require.Contains(t, order[i], "hello "+id, "sent in enqueue order")
		}
		for _, id := range []string{"w0000", "w0499", "w0501", "w0999"} {
			o, err := b.producer.Status(ctx, id)
			require.NoError(t, err)
			require.Equal(t, producer.StateWaitingSession, o.State)
		}
	})

	t.Run("WindowClosingWhileQueuedLeadsToParkingNotARefusedCall", func(t *testing.T) {
		b := setup(t)
		// The window, as sendq knows it, closes in one second.
		_, err := b.producer.RecordInbound(ctx, "", tasks.WhatsApp, "c1", "", time.Now().Add(-24*time.Hour+time.Second))
		require.NoError(t, err)
		m := textTo("m1", tasks.Recipient{ContactID: "c1"})
		m.NotBefore = time.Now().Add(2 * time.Second)
		_, err = b.producer.Send(ctx, m)
		require.NoError(t, err)
		b.waitState(t, "m1", producer.StateWaitingSession, 15*time.Second)
		require.Zero(t, b.sandbox.CallsFor("c1"))
	})
}

func TestWebhook(t *testing.T) {
	b := setup(t)
	post := func(token, body string) int {
		req, err := http.NewRequest(http.MethodPost, b.web+"/webhooks/whautomate", strings.NewReader(body))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("X-Webhook-Token", token)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	valid := `{"event":{"type":"incoming_whatsapp_message"},"message":{"contact":{"id":"c9","channel":"WhatsApp"},"isIncoming":"true"}}`
	for _, tc := range []struct {
		name, token, body string
		want              int
	}{
		{"MissingToken", "", valid, http.StatusUnauthorized},
		{"WrongToken", "nope", valid, http.StatusUnauthorized},
		{"MalformedJSON", "hook", `{"event":`, http.StatusBadRequest},
		{"NotAnObject", "hook", `[1,2]`, http.StatusBadRequest},
		{"Null", "hook", `null`, http.StatusBadRequest},
		{"MessageNotAnObject", "hook", `{"message":"m1"}`, http.StatusBadRequest},
		{"Incoming", "hook", valid, http.StatusOK},
		{"IgnoredEvent", "hook", `{"event":{"type":"contact_updated"}}`, http.StatusOK},
		{"EmptyObject", "hook", `{}`, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, post(tc.token, tc.body))
		})
	}
	t.Run("ConcurrentReleasesAreSafe", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { require.Equal(t, http.StatusOK, post("hook", valid)) })
		}
		wg.Wait()
	})
}
