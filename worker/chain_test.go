package worker

// The chain tests run the handler (handle) on miniredis, against a fake API,
// with one fake clock for the worker and for Redis's TIME: no Redis server and
// no sleeping. They judge a run only by what it leaves behind — its result as
// asynq takes it, the outcome record, the calls the API received, and what the
// next message meets — so that they hold however the chain is split into
// stages and files.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/internal/testclock"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// chainEpoch is where every chain test's clock starts.
var chainEpoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// reply is one scripted answer to Send: an upstream id, or an error. during,
// when set, runs while the call is in flight.
type reply struct {
	id     string
	err    error
	during func()
}

// pageReply is one scripted answer to Messages.
type pageReply struct {
	page *whautomate.MessagePage
	err  error
}

// fakeAPI is the Whautomate API as a test scripts it: each call takes the next
// answer queued for its method. A Send with none queued succeeds with a fresh
// upstream id ("up-1", "up-2", …); a Messages call with none fails the test.
type fakeAPI struct {
	t     *testing.T
	mu    sync.Mutex
	sends []reply
	pages []pageReply
	sent  []tasks.Message // what Send was called with, in order
	asked []string        // the Messages calls, as "contact page limit"
	ids   int
}

// Send implements API.
func (f *fakeAPI) Send(_ context.Context, m *tasks.Message) (*whautomate.SendResult, error) {
	f.mu.Lock()
	f.sent = append(f.sent, *m)
	r := reply{}
	if len(f.sends) > 0 {
		r, f.sends = f.sends[0], f.sends[1:]
	} else {
		f.ids++
		r.id = fmt.Sprintf("up-%d", f.ids)
	}
	f.mu.Unlock()
	if r.during != nil {
		r.during()
	}
	if r.err != nil {
		return nil, r.err
	}
	return &whautomate.SendResult{ID: r.id}, nil
}

// Messages implements API.
func (f *fakeAPI) Messages(_ context.Context, contactID string, page, limit int) (*whautomate.MessagePage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, fmt.Sprintf("%s %d %d", contactID, page, limit))
	if len(f.pages) == 0 {
		f.t.Errorf("Messages(%s) was not expected", contactID)
		return nil, errors.New("fakeAPI: no page scripted")
	}
	r := f.pages[0]
	f.pages = f.pages[1:]
	return r.page, r.err
}

// answer queues answers to Send.
func (f *fakeAPI) answer(rs ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, rs...)
}

// fail queues errors as the answers to Send.
func (f *fakeAPI) fail(errs ...error) {
	for _, err := range errs {
		f.answer(reply{err: err})
	}
}

// show queues answers to Messages.
func (f *fakeAPI) show(ps ...pageReply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages = append(f.pages, ps...)
}

// calls is how many times Send was called.
func (f *fakeAPI) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// probes lists the Messages calls so far.
func (f *fakeAPI) probes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

// testChain is what a chain test works with: the worker, its fake API and clock,
// and the worker's stores opened again on the same Redis, to arrange state
// and read records.
type testChain struct {
	rdb      *redis.Client
	w        *Worker
	api      *fakeAPI
	clock    *testclock.Clock
	outcomes *outcome.Store
	sessions *session.Store
}

// setup returns a worker on a fresh miniredis with no rate limits, a MaxBlock
// so short that any wait for a slot or a cool-down reschedules the message,
// and a small Horizon; opts change the Config before New.
func setup(t *testing.T, opts ...func(*Config)) *testChain {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	clock := testclock.New(mr, chainEpoch)
	api := &fakeAPI{t: t}
	cfg := Config{
		Redis:           rdb,
		API:             api,
		Limits:          map[tasks.Channel]ratelimit.Limit{},
		RecipientLimits: map[tasks.Channel]ratelimit.Limit{},
		Horizon:         50 * time.Millisecond,
		MaxBlock:        time.Millisecond,
		Logger:          slog.New(slog.DiscardHandler),
		Now:             clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	w, err := New(cfg)
	require.NoError(t, err)
	outcomes, err := outcome.New(rdb, outcome.Config{})
	require.NoError(t, err)
	sessions, err := session.New(rdb, session.Config{Windows: cfg.Windows})
	require.NoError(t, err)
	return &testChain{rdb: rdb, w: w, api: api, clock: clock, outcomes: outcomes, sessions: sessions}
}

// withLimits sets ch's channel limit and recipient pace.
func withLimits(ch tasks.Channel, channel, pace ratelimit.Limit) func(*Config) {
	return func(c *Config) {
		c.Limits = map[tasks.Channel]ratelimit.Limit{ch: channel}
		c.RecipientLimits = map[tasks.Channel]ratelimit.Limit{ch: pace}
	}
}

// textMsg is a WhatsApp text to a contact.
func textMsg(id, contact string) tasks.Message {
	return tasks.Message{ID: id, Channel: tasks.WhatsApp, Kind: tasks.KindText,
		To: tasks.Recipient{ContactID: contact}, Text: "hello from " + id}
}

// templateMsg is a WhatsApp template to a contact: no session window holds it.
func templateMsg(id, contact string) tasks.Message {
	return tasks.Message{ID: id, Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
		To:       tasks.Recipient{ContactID: contact},
		Template: &tasks.Template{Name: "order_update", Language: "en", Params: []string{"Ada"}}}
}

// enqueue records m as the producer does (queued, or scheduled with a
// NotBefore), created now unless it says otherwise, and returns its task as
// the tasks package encodes it.
func (c *testChain) enqueue(t *testing.T, m tasks.Message) *asynq.Task {
	t.Helper()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = c.clock.Now()
	}
	payload, err := tasks.Encode(&m)
	require.NoError(t, err)
	var sched outcome.Schedule
	if !m.NotBefore.IsZero() {
		sched = outcome.Schedule{NotBefore: m.NotBefore, Reason: "at"}
	}
	_, _, err = c.outcomes.Create(context.Background(), &m, sched, c.clock.Now())
	require.NoError(t, err)
	return asynq.NewTask(m.Type(), payload)
}

// handle runs the chain once on task.
func (c *testChain) handle(task *asynq.Task) error {
	return c.w.handle(context.Background(), task)
}

// run enqueues m and runs the chain once on it.
func (c *testChain) run(t *testing.T, m tasks.Message) error {
	t.Helper()
	return c.handle(c.enqueue(t, m))
}

// record is the message's outcome record.
func (c *testChain) record(t *testing.T, id string) *outcome.Record {
	t.Helper()
	r, err := c.outcomes.Get(context.Background(), "", id)
	require.NoError(t, err)
	return r
}

// inbound records that the contact wrote on WhatsApp at at.
func (c *testChain) inbound(t *testing.T, contact string, at time.Time) {
	t.Helper()
	require.NoError(t, c.sessions.RecordInbound(context.Background(), "", tasks.WhatsApp, contact, "", at))
}

// verdict is how asynq takes a run's result: done (nil), deferred (back
// after in, no attempt used), failure (retried with backoff, an attempt used)
// or skip (failed for good).
type verdict struct {
	kind string
	in   time.Duration // a deferral's delay
}

var (
	done    = verdict{kind: "done"}
	failure = verdict{kind: "failure"}
	skip    = verdict{kind: "skip"}
)

// deferred is the verdict of a run deferred for d.
func deferred(d time.Duration) verdict { return verdict{kind: "deferred", in: d} }

// verdictOf reads a run's result as asynq does.
func verdictOf(err error) verdict {
	var d *deferral
	switch {
	case err == nil:
		return done
	case errors.As(err, &d):
		return deferred(d.in)
	case errors.Is(err, asynq.SkipRetry):
		return skip
	}
	return failure
}

// requireVerdict requires that the run's result err is want.
func requireVerdict(t *testing.T, want verdict, err error) {
	t.Helper()
	require.Equal(t, want, verdictOf(err), "the run returned %v", err)
}

// upstream is the error the real client makes of the sandbox's answer a to a
// send: an *APIError read by the client's own parser, or, for an answer
// dropped on the way, a *TransportError.
func upstream(t *testing.T, a whautomatetest.Answer) error {
	t.Helper()
	sb := whautomatetest.NewServer(whautomatetest.Options{})
	defer sb.Close()
	sb.Script(whautomatetest.Match{}, a)
	return clientError(t, sb.URL(), templateMsg("upstream", "c-upstream"))
}

// refused is the real client's error for a call nothing answered: the
// connection was refused, the request never left.
func refused(t *testing.T) error {
	t.Helper()
	err := clientError(t, "http://127.0.0.1:1", templateMsg("refused", "c-refused"))
	require.False(t, whautomate.Ambiguous(err), "a refused connection sent nothing: %v", err)
	return err
}

// clientError is the real client's error for sending m to base.
func clientError(t *testing.T, base string, m tasks.Message) error {
	t.Helper()
	client, err := whautomate.New(whautomate.Config{BaseURL: base, APIKey: whautomatetest.DefaultAPIKey})
	require.NoError(t, err)
	_, err = client.Send(context.Background(), &m)
	require.Error(t, err)
	return err
}

// TestDecode: a task whose payload cannot be read fails for good, on record
// when its id can be read, and never reaches the API.
func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		typename string
		payload  string
		recorded bool // the payload names an id: the record says failed
	}{
		{"NotJSON", "send:whatsapp:text", `{{{`, false},
		{"NoRecipient", "send:whatsapp:text", `{"id":"bad1","ch":"whatsapp","k":"text","tx":"hi","to":{}}`, true},
		{"TypeNamesAnotherChannel", "send:telegram:text", `{"id":"bad2","ch":"whatsapp","k":"text","tx":"hi","to":{"c":"c1"}}`, true},
		{"UnknownType", "send:fax:text", `{"id":"bad3","ch":"whatsapp","k":"text","tx":"hi","to":{"c":"c1"}}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t)
			err := c.handle(asynq.NewTask(tc.typename, []byte(tc.payload)))
			requireVerdict(t, skip, err)
			require.Zero(t, c.api.calls())
			if !tc.recorded {
				n, err := c.rdb.DBSize(context.Background()).Result()
				require.NoError(t, err)
				require.Zero(t, n, "nothing to record without an id")
				return
			}
			var head struct{ ID string }
			require.NoError(t, json.Unmarshal([]byte(tc.payload), &head))
			r := c.record(t, head.ID)
			require.Equal(t, outcome.Failed, r.State)
			require.Contains(t, r.Error, "invalid message")
			require.Zero(t, r.Attempts)
		})
	}
}
