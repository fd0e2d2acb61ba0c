package worker

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// TestSendClassification: every class of answer to the call leads to its
// action and its record. Sent and permanent answers finish the message;
// closed windows park it; rate limits, configuration errors and account
// blocks bring it back later without using an attempt; transient failures
// use one, and at the last attempt fail it.
func TestSendClassification(t *testing.T) {
	const hold = 45 * time.Second
	answer := func(a whautomatetest.Answer) reply { return reply{err: upstream(t, a)} }
	meta := func(status int, body string) reply { return answer(whautomatetest.Answer{Status: status, Body: body}) }
	noRecipient := textMsg("invalid", "")
	noRecipient.To = tasks.Recipient{}
	unavailable := answer(whautomatetest.Answer{Status: 503})
	lastAttempt := func(c *Config) { c.MaxAttempts = 1 }
	for _, tc := range []struct {
		name     string
		opts     []func(*Config)
		answer   reply
		want     verdict
		state    outcome.State
		errText  string // found in the recorded error ("": none)
		upstream string
	}{
		{"Sent", nil, reply{id: "wamid-1"}, done, outcome.Sent, "", "wamid-1"},
		{"SentWithoutAnID", nil, reply{}, done, outcome.Sent, "", ""},
		{"Permanent", nil, meta(400, `{"error":{"message":"(#131026) Message undeliverable","code":131026}}`),
			skip, outcome.Failed, "Message undeliverable", ""},
		{"InvalidRequest", nil, reply{err: clientError(t, "http://127.0.0.1:1", noRecipient)},
			skip, outcome.Failed, "invalid request", ""},
		// A wrong location is the account's configuration: held, not failed.
		{"InvalidLocationID", nil, meta(404, `{"error":"Invalid locationId"}`),
			deferred(hold), outcome.Retrying, "configuration: whautomate: HTTP 404: Invalid locationId", ""},
		{"SessionClosed", nil, meta(400, `{"error":{"message":"Re-engagement message","code":131047}}`),
			deferred(time.Minute), outcome.WaitingSession, "outside the 24-hour window", ""},
		{"RateLimitedWithRetryAfter", nil, answer(whautomatetest.Answer{Status: 429, RetryAfter: "7"}),
			deferred(7 * time.Second), outcome.Retrying, "rate limited by the upstream: whautomate: HTTP 429", ""},
		{"RateLimitedWithoutRetryAfter", nil, answer(whautomatetest.Answer{Status: 429}),
			deferred(time.Second), outcome.Retrying, "rate limited by the upstream", ""},
		{"RateLimitedByMetaCode", nil, meta(400, `{"error":{"message":"Rate limit hit","code":130429}}`),
			deferred(time.Second), outcome.Retrying, "rate limited by the upstream", ""},
		{"RecipientRateLimited", nil, meta(400, `{"error":{"message":"Spam rate limit hit","code":131056}}`),
			deferred(time.Second), outcome.Retrying, "recipient rate limited", ""},
		{"Unauthorized", nil, answer(whautomatetest.Answer{Status: 401}),
			deferred(hold), outcome.Retrying, "configuration: whautomate: HTTP 401", ""},
		{"Forbidden", nil, meta(403, `{"message":"Forbidden"}`),
			deferred(hold), outcome.Retrying, "configuration: whautomate: HTTP 403", ""},
		{"AccountBlocked", nil, meta(400, `{"error":{"message":"Temporarily blocked for policies violations","code":368}}`),
			deferred(hold), outcome.Retrying, "account_blocked", ""},
		{"Transient", nil, unavailable, failure, outcome.Retrying, "HTTP 503", ""},
		{"FailedInA200", nil, meta(200, `{"success":false}`), failure, outcome.Retrying, "HTTP 200", ""},
		{"ConnectionRefused", nil, reply{err: refused(t)}, failure, outcome.Retrying, "connection refused", ""},
		{"AnswerLost", nil, answer(whautomatetest.Answer{Drop: true, Accept: true}),
			failure, outcome.Retrying, "outcome unknown", ""},
		{"TransientAtTheLastAttempt", []func(*Config){lastAttempt}, unavailable,
			skip, outcome.Failed, "gave up after 1 failed attempts: whautomate: HTTP 503", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t, append([]func(*Config){func(c *Config) { c.Hold = hold }}, tc.opts...)...)
			c.inbound(t, "c1", c.clock.Now().Add(-time.Hour))
			c.api.answer(tc.answer)
			requireVerdict(t, tc.want, c.run(t, textMsg("m1", "c1")))
			require.Equal(t, 1, c.api.calls())
			r := c.record(t, "m1")
			require.Equal(t, tc.state, r.State)
			require.Equal(t, 1, r.Attempts, "every call is counted")
			require.Equal(t, tc.upstream, r.UpstreamID)
			if tc.errText == "" {
				require.Empty(t, r.Error)
			} else {
				require.Contains(t, r.Error, tc.errText)
			}
		})
	}
}

// TestTransientFailureMarksAmbiguousOnlyWhenTheRequestWentOut: after a call
// whose request was written and whose answer never came, the next run first
// looks for the message among the contact's latest messages (the latest 50);
// after a failure that surely sent nothing it just sends.
func TestTransientFailureMarksAmbiguousOnlyWhenTheRequestWentOut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer error
		checks bool
	}{
		{"AnswerLost", upstream(t, whautomatetest.Answer{Drop: true, Accept: true}), true},
		{"ConnectionRefused", refused(t), false},
		{"ServerError", upstream(t, whautomatetest.Answer{Status: 500}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t)
			c.inbound(t, "c1", c.clock.Now().Add(-time.Hour))
			c.api.fail(tc.answer)
			task := c.enqueue(t, textMsg("m1", "c1"))
			requireVerdict(t, failure, c.handle(task))
			var want []string
			if tc.checks {
				c.api.show(page())
				want = []string{"c1 1 50"}
			}
			requireVerdict(t, done, c.handle(task))
			require.Equal(t, want, c.api.probes())
			require.Equal(t, 2, c.api.calls())
			require.Equal(t, 2, c.record(t, "m1").Attempts)
		})
	}
}

// TestMetricsCarryTheAccount: the send's metrics name the account it was
// made for (never a key or a recipient).
func TestMetricsCarryTheAccount(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	require.NoError(t, err)
	c := setup(t, func(c *Config) { c.Account, c.Metrics = "clinic-sg", metrics })
	requireVerdict(t, done, c.run(t, templateMsg("m1", "c1")))
	require.Equal(t, 1.0, testutil.ToFloat64(metrics.calls.WithLabelValues("clinic-sg", "whatsapp", "sent")))
	require.Equal(t, 1.0, testutil.ToFloat64(metrics.handled.WithLabelValues("clinic-sg", "whatsapp", "template", "sent")))
}
