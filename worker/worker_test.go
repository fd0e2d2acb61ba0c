package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
	"github.com/sendq/sendq/worker"
)

// bundle is what a worker test works with: the real Redis, the sandbox, and
// a producer.
type bundle struct {
	web      string // the worker's HTTP server
	rdb      redis.UniversalClient
	sandbox  *whautomatetest.Server
	producer *producer.Producer
	worker   *worker.Worker
	ins      *asynq.Inspector
}

type option func(*worker.Config)

// setup starts a worker on the real Redis against a fresh sandbox, with no
// rate limits unless an option sets them. The worker stops at the end of the
// test, and the test fails if it does not stop.
func setup(t *testing.T, opts ...option) *bundle {
	t.Helper()
	rdb := redistest.Client(t, 1)
	// The worker's HTTP server, for the sandbox's webhooks; its handler is
	// set once the worker exists.
	var handler atomic.Pointer[http.Handler]
	web := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		(*handler.Load()).ServeHTTP(rw, r)
	}))
	t.Cleanup(web.Close)
	sb := whautomatetest.NewServer(whautomatetest.Options{APIKey: "test-key",
		WebhookURL: web.URL + "/webhooks/whautomate", WebhookToken: "hook"})
	t.Cleanup(sb.Close)
	api, err := whautomate.New(whautomate.Config{BaseURL: sb.URL(), APIKey: "test-key"})
	require.NoError(t, err)
	cfg := worker.Config{
		Redis:           rdb,
		API:             api,
		Concurrency:     20,
		Limits:          map[tasks.Channel]ratelimit.Limit{},
		RecipientLimits: map[tasks.Channel]ratelimit.Limit{},
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		ShutdownTimeout: 5 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	w, err := worker.New(cfg)
	require.NoError(t, err)
	h := worker.NewHTTPHandler(worker.HTTPConfig{Redis: rdb, Worker: w, WebhookTokens: map[string]string{"default": "hook"}})
	handler.Store(&h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("worker did not stop")
		}
	})
	p, err := producer.New(producer.Config{Redis: rdb})
	require.NoError(t, err)
	ins := asynq.NewInspectorFromRedisClient(rdb)
	return &bundle{web: web.URL, rdb: rdb, sandbox: sb, producer: p, worker: w, ins: ins}
}

// sendTemplates enqueues n templates "<prefix>NNN", each to a contact of its
// own ("c-NNN"), and returns their ids.
func (b *bundle) sendTemplates(t *testing.T, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s%03d", prefix, i)
		_, err := b.producer.Send(context.Background(), template(ids[i], fmt.Sprintf("c-%03d", i)))
		require.NoError(t, err)
	}
	return ids
}

// waitSent waits until every message of ids is sent.
func (b *bundle) waitSent(t *testing.T, ids []string, timeout time.Duration) {
	t.Helper()
	for _, id := range ids {
		b.waitState(t, id, producer.StateSent, timeout)
	}
}

// waitState polls a message's outcome until it is in want, or fails the test
// after timeout.
func (b *bundle) waitState(t *testing.T, id string, want producer.State, timeout time.Duration) *producer.Outcome {
	t.Helper()
	var last *producer.Outcome
	poll.Eventually(t, func() bool {
		o, err := b.producer.Status(context.Background(), id)
		if err != nil {
			return false
		}
		last = o
		return o.State == want
	}, timeout, 10*time.Millisecond, "message %s never reached %s (last: %+v)", id, want, last)
	return last
}

func template(id, contact string) tasks.Message {
	return tasks.Message{ID: id, Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
		To:       tasks.Recipient{ContactID: contact},
		Template: &tasks.Template{Name: "order_update", Language: "en", Params: []string{"Ada"}}}
}

func TestPipeline(t *testing.T) {
	ctx := context.Background()

	t.Run("TextInAnOpenWindowEndsSentWithTheUpstreamID", func(t *testing.T) {
		b := setup(t)
		b.sandbox.MarkInbound(tasks.WhatsApp, "c-open", "", time.Now())
		_, err := b.producer.Send(ctx, tasks.Message{ID: "m1", Channel: tasks.WhatsApp, Kind: tasks.KindText,
			To: tasks.Recipient{ContactID: "c-open"}, Text: "hello"})
		require.NoError(t, err)
		o := b.waitState(t, "m1", producer.StateSent, 10*time.Second)
		sent := b.sandbox.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, sent[0].UpstreamID, o.UpstreamID)
		require.NotEmpty(t, o.UpstreamID)
		require.Equal(t, 1, o.Attempts)
		require.False(t, o.SentAt.IsZero())
	})

	t.Run("PermanentErrorFailsAfterExactlyOneCall", func(t *testing.T) {
		b := setup(t)
		b.sandbox.Script(whautomatetest.Match{Recipient: "c-bad"}, whautomatetest.Answer{Status: 400,
			Body: `{"error":{"message":"(#131026) Message undeliverable","code":131026}}`})
		_, err := b.producer.Send(ctx, template("m1", "c-bad"))
		require.NoError(t, err)
		o := b.waitState(t, "m1", producer.StateFailed, 10*time.Second)
		require.Contains(t, o.Error, "undeliverable")
		require.Equal(t, 1, o.Attempts)
		require.Equal(t, 1, b.sandbox.CallsFor("c-bad"))
	})

	t.Run("TransientErrorsAreRetriedUntilSent", func(t *testing.T) {
		b := setup(t)
		b.sandbox.Script(whautomatetest.Match{Recipient: "c-flaky"},
			whautomatetest.Answer{Status: 503}, whautomatetest.Answer{Status: 503})
		start := time.Now()
		_, err := b.producer.Send(ctx, template("m1", "c-flaky"))
		require.NoError(t, err)
		o := b.waitState(t, "m1", producer.StateSent, 30*time.Second)
		require.Equal(t, 3, b.sandbox.CallsFor("c-flaky"))
		require.Equal(t, 3, o.Attempts)
		t.Logf("503, 503, 200: sent after %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("TooManyRequestsWaitsRetryAfterWithoutUsingAnAttempt", func(t *testing.T) {
		// One attempt only: if the 429 used it, the message would fail.
		b := setup(t, func(c *worker.Config) { c.MaxAttempts = 1 })
		b.sandbox.Script(whautomatetest.Match{Recipient: "c-busy"},
			whautomatetest.Answer{Status: 429, RetryAfter: "2"})
		_, err := b.producer.Send(ctx, template("m1", "c-busy"))
		require.NoError(t, err)
		b.waitState(t, "m1", producer.StateRetrying, 10*time.Second)
		info, err := b.ins.GetTaskInfo(keys.Queue("whatsapp", false), "m1")
		require.NoError(t, err)
		require.Zero(t, info.Retried, "a 429 is not a failed attempt")
		o := b.waitState(t, "m1", producer.StateSent, 15*time.Second)
		require.Equal(t, 2, o.Attempts)
		calls := b.sandbox.Calls("/v1/messages/whatsapp/sendtemplate")
		require.Equal(t, 2, calls)
		sent := b.sandbox.Sent()
		require.Len(t, sent, 1)
		require.GreaterOrEqual(t, sent[0].At.Sub(b.sandbox.FirstCall("c-busy")), 2*time.Second)
	})

	t.Run("SameIDTwiceSendsOnce", func(t *testing.T) {
		b := setup(t)
		r1, err := b.producer.Send(ctx, template("same", "c1"))
		require.NoError(t, err)
		require.False(t, r1.Duplicate)
		r2, err := b.producer.Send(ctx, template("same", "c1"))
		require.NoError(t, err)
		require.True(t, r2.Duplicate)
		b.waitState(t, "same", producer.StateSent, 10*time.Second)
		r3, err := b.producer.Send(ctx, template("same", "c1"))
		require.NoError(t, err)
		require.True(t, r3.Duplicate)
		require.Equal(t, producer.StateSent, r3.State)
		// Give a wrongly re-enqueued task every chance to run.
		_, err = b.producer.Send(ctx, template("after", "c1"))
		require.NoError(t, err)
		b.waitState(t, "after", producer.StateSent, 10*time.Second)
		require.Equal(t, 2, b.sandbox.CallsFor("c1"))
	})

	t.Run("UndecodablePayloadFailsWithoutRetryOrPanic", func(t *testing.T) {
		b := setup(t)
		client := asynq.NewClientFromRedisClient(b.rdb)
		_, err := client.Enqueue(asynq.NewTask("send:whatsapp:text", []byte(`{"id":"bad1","ch":"whatsapp","k":"text","to":{}}`)),
			asynq.Queue(keys.Queue("whatsapp", false)), asynq.TaskID("bad1"), asynq.MaxRetry(keys.TaskMaxRetry))
		require.NoError(t, err)
		_, err = client.Enqueue(asynq.NewTask("send:whatsapp:text", []byte(`{{{`)),
			asynq.Queue(keys.Queue("whatsapp", false)), asynq.TaskID("bad2"), asynq.MaxRetry(keys.TaskMaxRetry))
		require.NoError(t, err)
		o := b.waitState(t, "bad1", producer.StateFailed, 10*time.Second)
		require.Contains(t, o.Error, "invalid message")
		poll.Eventually(t, func() bool {
			info, err := b.ins.GetTaskInfo(keys.Queue("whatsapp", false), "bad2")
			return err == nil && info.State == asynq.TaskStateArchived && info.Retried == 0
		}, 10*time.Second, 10*time.Millisecond)
		require.Zero(t, len(b.sandbox.Sent()))
	})

	t.Run("MessageExpiringWhileItWaitsIsNeverSent", func(t *testing.T) {
		b := setup(t)
		b.sandbox.Script(whautomatetest.Match{Recipient: "c-slow"}, whautomatetest.Answer{Status: 429, RetryAfter: "3"})
		m := template("late", "c-slow")
		m.ExpiresAt = time.Now().Add(1500 * time.Millisecond)
		_, err := b.producer.Send(ctx, m)
		require.NoError(t, err)
		o := b.waitState(t, "late", producer.StateExpired, 15*time.Second)
		require.Equal(t, 1, o.Attempts)
		require.Equal(t, 1, b.sandbox.CallsFor("c-slow"), "the API is not called after the expiry")
	})

	t.Run("CutConnectionAfterTheSendIsCheckedNotResent", func(t *testing.T) {
		b := setup(t)
		b.sandbox.MarkInbound(tasks.WhatsApp, "c-cut", "", time.Now())
		// The sandbox takes the message in and drops the connection unanswered.
		b.sandbox.Script(whautomatetest.Match{Recipient: "c-cut"}, whautomatetest.Answer{Drop: true, Accept: true})
		_, err := b.producer.Send(ctx, tasks.Message{ID: "m1", Channel: tasks.WhatsApp, Kind: tasks.KindText,
			To: tasks.Recipient{ContactID: "c-cut"}, Text: "your code is 1234"})
		require.NoError(t, err)
		o := b.waitState(t, "m1", producer.StateSent, 15*time.Second)
		sent := b.sandbox.Sent()
		require.Len(t, sent, 1, "found among the contact's messages, not sent again")
		require.Equal(t, sent[0].UpstreamID, o.UpstreamID)
	})

	t.Run("BadKeyFor10sHoldsTheChannelAndNothingFails", func(t *testing.T) {
		b := setup(t, func(c *worker.Config) { c.Hold = 2 * time.Second; c.MaxAttempts = 1 })
		b.sandbox.SetAPIKey("revoked")
		var ids []string
		for i := range 20 {
			id := fmt.Sprintf("k%02d", i)
			_, err := b.producer.Send(ctx, template(id, "c-"+id))
			require.NoError(t, err)
			ids = append(ids, id)
		}
		b.waitState(t, "k00", producer.StateRetrying, 30*time.Second)
		// The key stays bad for 10 s: the channel is held and probed, no
		// message fails (one attempt only: a counted failure would fail it).
		<-time.After(10 * time.Second)
		for _, id := range ids {
			o, err := b.producer.Status(ctx, id)
			require.NoError(t, err)
			require.NotEqual(t, producer.StateFailed, o.State, id)
		}
		calls := b.sandbox.Calls("")
		b.sandbox.SetAPIKey("test-key")
		for _, id := range ids {
			b.waitState(t, id, producer.StateSent, 30*time.Second)
		}
		t.Logf("10 s of 401: %d calls in all while held (a probe per hold, not one per message per retry)", calls)
	})
}

func TestConfig(t *testing.T) {
	_, err := worker.New(worker.Config{})
	require.ErrorContains(t, err, "Config.Redis is required")
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	_, err = worker.New(worker.Config{Redis: rdb})
	require.ErrorContains(t, err, "Config.API or Config.Accounts is required")
}
