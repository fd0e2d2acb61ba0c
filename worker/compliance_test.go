package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/compliance"
	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/msglimit"
	"github.com/sendq/sendq/internal/optout"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// withCompliance makes the worker's one account ("default") one with
// these compliance settings.
func withCompliance(quiet string, tz *time.Location, limit int) func(*Config) {
	return func(c *Config) {
		q, err := compliance.ParseQuietHours(quiet)
		if err != nil {
			panic(err)
		}
		c.Accounts = []Account{{ID: keys.DefaultAccount, API: c.API, QuietHours: q, Timezone: tz, MessagingLimit: limit,
			Limits: map[tasks.Channel]ratelimit.Limit{}, RecipientLimits: map[tasks.Channel]ratelimit.Limit{}}}
	}
}

// marketing is a WhatsApp marketing template to r.
func marketing(id string, r tasks.Recipient) tasks.Message {
	m := templateMsg(id, "")
	m.To = r
	m.Template.Category = tasks.Marketing
	return m
}

// withCategory is m in category c.
func withCategory(m tasks.Message, c tasks.Category) tasks.Message {
	m.Template.Category = c
	return m
}

func optouts(t *testing.T, c *testChain) *optout.Store {
	t.Helper()
	s, err := optout.New(c.rdb, optout.Config{})
	require.NoError(t, err)
	return s
}

// TestOptOutSuppresses: a marketing template to an opted-out recipient
// (by any of its identifiers) ends suppressed with no call; utility and
// authentication still go; removed from the list, marketing goes again.
func TestOptOutSuppresses(t *testing.T) {
	ctx := context.Background()
	space := keys.Account("")
	for _, tc := range []struct {
		name   string
		listed tasks.Recipient // what is on the list
		to     tasks.Recipient // whom the message is to
	}{
		{"ContactID", tasks.Recipient{ContactID: "c1"}, tasks.Recipient{ContactID: "c1"}},
		{"Phone", tasks.Recipient{Phone: "6591234567"}, tasks.Recipient{Phone: "6591234567"}},
		{"ClientID", tasks.Recipient{ClientID: "l1"}, tasks.Recipient{ClientID: "l1"}},
		{"WebhookListsBothContactAndPhone", tasks.Recipient{ContactID: "c1", Phone: "6591234567"}, tasks.Recipient{Phone: "6591234567"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t)
			list := optouts(t, c)
			_, err := list.Add(ctx, space, tasks.WhatsApp, tc.listed, c.clock.Now())
			require.NoError(t, err)

			requireVerdict(t, done, c.run(t, marketing("m1", tc.to)))
			r := c.record(t, "m1")
			require.Equal(t, outcome.Suppressed, r.State)
			require.Equal(t, "opted_out", r.Reason)
			require.Zero(t, c.api.calls(), "a suppressed message makes no call")

			for i, cat := range []tasks.Category{tasks.Utility, tasks.Authentication, ""} {
				id := "u" + string(rune('1'+i))
				requireVerdict(t, done, c.run(t, withCategory(marketing(id, tc.to), cat)))
				require.Equal(t, outcome.Sent, c.record(t, id).State, "category %q goes", cat)
			}
			require.Equal(t, 3, c.api.calls())

			// Another channel's list is its own.
			tg := marketing("tg1", tc.to)
			tg.Channel, tg.Template = tasks.Telegram, &tasks.Template{Text: "hi", Category: tasks.Marketing}
			if tc.to.ContactID != "" || tc.to.ClientID != "" {
				requireVerdict(t, done, c.run(t, tg))
				require.Equal(t, outcome.Sent, c.record(t, "tg1").State)
			}

			_, err = list.Remove(ctx, space, tasks.WhatsApp, tc.listed)
			require.NoError(t, err)
			requireVerdict(t, done, c.run(t, marketing("m2", tc.to)))
			require.Equal(t, outcome.Sent, c.record(t, "m2").State)
		})
	}
}

// webhook posts an incoming WhatsApp message with text from contact c1,
// phone 6591234567, to the worker's webhook and returns the answer.
func webhook(t *testing.T, c *testChain, text string) map[string]any {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"event": map[string]any{"type": "incoming_whatsapp_message"},
		"message": map[string]any{"contact": map[string]any{"id": "c1", "channel": "WhatsApp", "phoneNumber": "+65 9123 4567"},
			"isIncoming": "true", "text": text},
	})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	c.w.WebhookHandler(keys.DefaultAccount, "").ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body))))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var res map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
	return res
}

// TestWebhookKeywords: an incoming message that is an opt-out keyword, in
// any of the default languages and any case or surrounding space, stops
// marketing to its sender (by contact id and by phone); an opt-in keyword
// lets it go again; a message that merely contains a keyword changes
// nothing. Custom keywords replace the defaults.
func TestWebhookKeywords(t *testing.T) {
	byContact := tasks.Recipient{ContactID: "c1"}
	byPhone := tasks.Recipient{Phone: "6591234567"}
	n := 0
	next := func() string { n++; return "m" + string(rune('a'+n%26)) + string(rune('0'+n/26)) }
	check := func(t *testing.T, c *testChain, want outcome.State) {
		t.Helper()
		for _, to := range []tasks.Recipient{byContact, byPhone} {
			id := next()
			requireVerdict(t, done, c.run(t, marketing(id, to)))
			require.Equal(t, want, c.record(t, id).State, "marketing to %+v", to)
		}
		id := next()
		requireVerdict(t, done, c.run(t, withCategory(marketing(id, byContact), tasks.Utility)))
		require.Equal(t, outcome.Sent, c.record(t, id).State, "utility always goes")
	}
	for _, tc := range []struct {
		name     string
		keywords *compliance.Keywords
		out, in  string
	}{
		{"English", nil, "STOP", "START"},
		{"EnglishLowerWithSpace", nil, "  stop\n", " Start "},
		{"EnglishUnsubscribe", nil, "Unsubscribe", "subscribe"},
		{"Spanish", nil, "Parar", "UNSTOP"},
		{"SpanishBaja", nil, "baja", "start"},
		{"French", nil, "Arrêt", "START"},
		{"FrenchUpperNoAccent", nil, "ARRET", "start"},
		{"FrenchDecomposedAccent", nil, "arre\u0302t", "start"},
		{"Portuguese", nil, "Sair", "START"},
		{"GermanConfigured", mustKeywords(t, []string{"ABMELDEN", "STOPP"}, []string{"ANMELDEN"}), "abmelden", "Anmelden"},
		{"TurkishConfigured", mustKeywords(t, []string{"DUR"}, []string{"BAŞLA"}), " dur ", "başla"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t, func(cfg *Config) { cfg.Keywords = tc.keywords })
			check(t, c, outcome.Sent)
			require.Equal(t, "opt_out", webhook(t, c, tc.out)["keyword"])
			check(t, c, outcome.Suppressed)
			res := webhook(t, c, "please "+tc.out+" sending me these")
			require.Nil(t, res["keyword"], "a message that merely contains a keyword is none")
			check(t, c, outcome.Suppressed)
			require.Equal(t, "opt_in", webhook(t, c, tc.in)["keyword"])
			check(t, c, outcome.Sent)
		})
	}
}

func mustKeywords(t *testing.T, out, in []string) *compliance.Keywords {
	t.Helper()
	k, err := compliance.NewKeywords(out, in)
	require.NoError(t, err)
	return &k
}

// TestQuietHoursHold: a marketing template within the recipient's quiet
// hours is held, scheduled with reason quiet_hours and not_before its
// release, and comes back exactly then (no second added); utility goes;
// outside quiet hours marketing goes. The clock is 09:00 UTC (chainEpoch).
func TestQuietHoursHold(t *testing.T) {
	sgt, err := time.LoadLocation("Asia/Singapore")
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		to      tasks.Recipient
		tz      *time.Location
		release time.Time // zero: not quiet, it goes
	}{
		// New York, 04:00 EST: until 08:00 EST, 13:00 UTC.
		{"NewYorkAtFour", tasks.Recipient{Phone: "12125550123"}, nil, time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)},
		// Singapore, 17:00: not quiet.
		{"SingaporeAtFive", tasks.Recipient{Phone: "6591234567"}, nil, time.Time{}},
		// Sydney (AEDT, UTC+11), 20:00: not quiet.
		{"SydneyAtEight", tasks.Recipient{Phone: "61291234567"}, nil, time.Time{}},
		// Los Angeles, 01:00 PST: until 08:00 PST, 16:00 UTC.
		{"LosAngelesAtOne", tasks.Recipient{Phone: "13105550123"}, nil, time.Date(2026, 3, 2, 16, 0, 0, 0, time.UTC)},
		// A contact id: the account's zone. UTC at 09:00 is not quiet.
		{"ContactInUTC", tasks.Recipient{ContactID: "c1"}, nil, time.Time{}},
		// A contact id of an account in Auckland (NZDT, UTC+13), 22:00:
		// until 08:00 NZDT, 19:00 UTC.
		{"ContactInAuckland", tasks.Recipient{ContactID: "c1"}, mustZone(t, "Pacific/Auckland"), time.Date(2026, 3, 2, 19, 0, 0, 0, time.UTC)},
		// A client id of an account in Singapore, 17:00: not quiet.
		{"ClientInSingapore", tasks.Recipient{ClientID: "l1"}, sgt, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t, withCompliance("21:00-08:00", tc.tz, 0))
			requireVerdict(t, done, c.run(t, withCategory(marketing("u1", tc.to), tasks.Utility)))
			require.Equal(t, 1, c.api.calls(), "utility goes in quiet hours")

			err := c.run(t, marketing("m1", tc.to))
			if tc.release.IsZero() {
				requireVerdict(t, done, err)
				require.Equal(t, outcome.Sent, c.record(t, "m1").State)
				return
			}
			requireVerdict(t, deferred(tc.release.Sub(c.clock.Now())), err)
			var d *deferral
			require.ErrorAs(t, err, &d)
			require.True(t, d.exact, "a hold comes back at its release, not a second later")
			require.Equal(t, tc.release.Sub(c.clock.Now()), retryDelay(0, err, nil))
			r := c.record(t, "m1")
			require.Equal(t, outcome.Scheduled, r.State)
			require.Equal(t, "quiet_hours", r.Reason)
			require.Equal(t, tc.release, r.NotBefore)
			require.Equal(t, 1, c.api.calls())

			// At the release it goes, and the record drops its reason.
			c.clock.Advance(tc.release.Sub(c.clock.Now()))
			requireVerdict(t, done, c.handle(c.enqueue(t, marketing("m1", tc.to))))
			r = c.record(t, "m1")
			require.Equal(t, outcome.Sent, r.State)
			require.Empty(t, r.Reason)
			require.Equal(t, 2, c.api.calls())
		})
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	require.NoError(t, err)
	return z
}

// TestMessagingLimit: with a limit of 2, templates opening a conversation
// to new recipients take places until none is left, then wait, scheduled
// with reason messaging_limit until the oldest place frees; a recipient
// already counted, or one whose window is open, goes without a place; a
// send that fails for good, or is capped by Meta (131049), gives its place
// back.
func TestMessagingLimit(t *testing.T) {
	ctx := context.Background()
	space := keys.Account("")
	usage := func(t *testing.T, c *testChain) int {
		t.Helper()
		s, err := msglimit.New(c.rdb, msglimit.Config{})
		require.NoError(t, err)
		n, _, err := s.Usage(ctx, space, c.clock.Now())
		require.NoError(t, err)
		return n
	}

	t.Run("PlacesThenHold", func(t *testing.T) {
		c := setup(t, withCompliance("", nil, 2))
		first := c.clock.Now()
		requireVerdict(t, done, c.run(t, templateMsg("m1", "c1")))
		c.clock.Advance(time.Minute)
		requireVerdict(t, done, c.run(t, templateMsg("m2", "c2")))
		require.Equal(t, 2, usage(t, c))

		// c1 again, and c4 whose window is open: no place needed.
		requireVerdict(t, done, c.run(t, templateMsg("m1b", "c1")))
		c.inbound(t, "c4", c.clock.Now().Add(-time.Hour))
		requireVerdict(t, done, c.run(t, templateMsg("m4", "c4")))
		require.Equal(t, 2, usage(t, c))
		require.Equal(t, 4, c.api.calls())

		// c3: no place until c1's leaves the 24 hours.
		err := c.run(t, templateMsg("m3", "c3"))
		release := first.Add(24 * time.Hour)
		r := c.record(t, "m3")
		require.Equal(t, outcome.Scheduled, r.State)
		require.Equal(t, "messaging_limit", r.Reason)
		require.WithinDuration(t, release, r.NotBefore, time.Millisecond)
		requireVerdict(t, deferred(r.NotBefore.Sub(c.clock.Now())), err)
		require.Equal(t, 4, c.api.calls())

		// Other channels, and text, are not counted.
		requireVerdict(t, done, c.run(t, tasks.Message{ID: "tg1", Channel: tasks.Telegram, Kind: tasks.KindTemplate,
			To: tasks.Recipient{ContactID: "c9"}, Template: &tasks.Template{Text: "hi"}}))
		require.Equal(t, 2, usage(t, c))

		c.clock.Advance(r.NotBefore.Add(time.Millisecond).Sub(c.clock.Now()))
		requireVerdict(t, done, c.handle(c.enqueue(t, templateMsg("m3", "c3"))))
		require.Equal(t, outcome.Sent, c.record(t, "m3").State)
	})

	for _, tc := range []struct {
		name  string
		err   func(t *testing.T) error
		state outcome.State
		want  verdict
	}{
		{"PermanentFailureGivesThePlaceBack", func(t *testing.T) error {
			return upstream(t, whautomatetest.Answer{Status: 400, Body: `{"error":{"message":"undeliverable","code":131026}}`})
		}, outcome.Failed, skip},
		{"MarketingCapGivesThePlaceBackAndWaitsADay", func(t *testing.T) error {
			return upstream(t, whautomatetest.Answer{Status: 400, Body: `{"error":{"message":"to maintain healthy ecosystem engagement","code":131049}}`})
		}, outcome.Retrying, deferred(24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t, withCompliance("", nil, 2))
			c.api.fail(tc.err(t))
			m := templateMsg("m1", "c1")
			m.ExpiresAt = c.clock.Now().Add(48 * time.Hour)
			requireVerdict(t, tc.want, c.run(t, m))
			require.Equal(t, tc.state, c.record(t, "m1").State)
			require.Zero(t, usage(t, c), "the send did not go: its place is free")
		})
	}
}

// TestMarketingCapWaitsUntilExpiry: a message capped by Meta (131049) that
// expires within the day comes back at its expiry, which ends it.
func TestMarketingCapWaitsUntilExpiry(t *testing.T) {
	c := setup(t)
	c.api.fail(upstream(t, whautomatetest.Answer{Status: 400, Body: `{"error":{"message":"to maintain healthy ecosystem engagement","code":131049}}`}))
	m := marketing("m1", tasks.Recipient{ContactID: "c1"})
	m.ExpiresAt = c.clock.Now().Add(2 * time.Hour)
	requireVerdict(t, deferred(2*time.Hour), c.run(t, m))
	r := c.record(t, "m1")
	require.Equal(t, outcome.Retrying, r.State)
	require.Contains(t, r.Error, "131049")
	c.clock.Advance(2 * time.Hour)
	requireVerdict(t, done, c.handle(c.enqueue(t, m)))
	require.Equal(t, outcome.Expired, c.record(t, "m1").State)
	require.Equal(t, 1, c.api.calls())
}
