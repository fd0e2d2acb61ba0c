package whautomatetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// bundle is a sandbox with a client for it and its clock.
type bundle struct {
	sb     *whautomatetest.Server
	client *whautomate.Client
	clock  *clock
}

func setup(t *testing.T, opts whautomatetest.Options) *bundle {
	t.Helper()
	clk := &clock{t: t0}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	sb := whautomatetest.NewServer(opts)
	t.Cleanup(sb.Close)
	key := opts.APIKey
	if key == "" {
		key = whautomatetest.DefaultAPIKey
	}
	c, err := whautomate.New(whautomate.Config{BaseURL: sb.URL(), APIKey: key, Timeout: 5 * time.Second})
	require.NoError(t, err)
	return &bundle{sb: sb, client: c, clock: clk}
}

// post sends a raw request and returns the status and the decoded body.
func post(t *testing.T, base, path, key, body string) (int, map[string]any) {
	t.Helper()
	status, _, v := request(t, http.MethodPost, base+path, key, body)
	return status, v
}

// request sends a raw request with key ("" for none) and returns the
// status, the Retry-After header and the decoded body.
func request(t *testing.T, method, url, key, body string) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(b, &v), "body: %s", b)
	return resp.StatusCode, resp.Header.Get("Retry-After"), v
}

func TestWindow(t *testing.T) {
	ctx := context.Background()
	to := tasks.Recipient{ContactID: "c1"}
	send := func(c *whautomate.Client, ch tasks.Channel, kind tasks.Kind, to tasks.Recipient) error {
		m := &tasks.Message{Channel: ch, Kind: kind, To: to, Text: "hello",
			Media:    &tasks.Media{URL: "https://cdn.example.com/a.jpg", MimeType: "image/jpeg"},
			Template: &tasks.Template{Name: "hello", Language: "en", Text: "hello", Elements: []tasks.Element{{Title: "card"}}}}
		_, err := c.Send(ctx, m)
		return err
	}
	type want struct {
		class   whautomate.Class
		code    int
		subcode int
	}
	closedWA := want{whautomate.SessionClosed, 131047, 0}
	closedMeta := want{whautomate.SessionClosed, 10, 2018278}
	sent := want{class: whautomate.Sent}
	tests := []struct {
		channel tasks.Channel
		kind    tasks.Kind
		never   want // no inbound message
		open    want // inbound 23h59m ago
		expired want // inbound exactly 24h ago
	}{
		{tasks.WhatsApp, tasks.KindText, closedWA, sent, closedWA},
		{tasks.WhatsApp, tasks.KindMedia, closedWA, sent, closedWA},
		{tasks.WhatsApp, tasks.KindTemplate, sent, sent, sent},
		{tasks.Instagram, tasks.KindText, closedMeta, sent, closedMeta},
		{tasks.Instagram, tasks.KindMedia, closedMeta, sent, closedMeta},
		{tasks.Instagram, tasks.KindTemplate, sent, sent, sent},
		{tasks.Messenger, tasks.KindText, closedMeta, sent, closedMeta},
		{tasks.Messenger, tasks.KindMedia, closedMeta, sent, closedMeta},
		{tasks.Messenger, tasks.KindTemplate, sent, sent, sent},
		{tasks.Telegram, tasks.KindText, sent, sent, sent},
		{tasks.Telegram, tasks.KindMedia, sent, sent, sent},
		{tasks.Telegram, tasks.KindTemplate, sent, sent, sent},
	}
	check := func(t *testing.T, err error, w want) {
		t.Helper()
		require.Equal(t, w.class, whautomate.Classify(err), "err: %v", err)
		if w.class == whautomate.Sent {
			return
		}
		var ae *whautomate.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, http.StatusBadRequest, ae.Status)
		require.Equal(t, w.code, ae.Code)
		require.Equal(t, w.subcode, ae.Subcode)
	}
	for _, tt := range tests {
		t.Run(string(tt.channel)+"/"+string(tt.kind), func(t *testing.T) {
			b := setup(t, whautomatetest.Options{})
			t.Run("never wrote", func(t *testing.T) {
				check(t, send(b.client, tt.channel, tt.kind, to), tt.never)
			})
			b.sb.MarkInbound(tt.channel, "c1", "", t0.Add(-24*time.Hour+time.Minute))
			t.Run("wrote 23h59m ago", func(t *testing.T) {
				check(t, send(b.client, tt.channel, tt.kind, to), tt.open)
			})
			b.clock.Set(t0.Add(time.Minute))
			t.Run("wrote 24h ago", func(t *testing.T) {
				check(t, send(b.client, tt.channel, tt.kind, to), tt.expired)
			})
		})
	}

	t.Run("windows are per channel", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		b.sb.MarkInbound(tasks.WhatsApp, "c1", "", t0)
		require.NoError(t, send(b.client, tasks.WhatsApp, tasks.KindText, to))
		require.Equal(t, whautomate.SessionClosed, whautomate.Classify(send(b.client, tasks.Messenger, tasks.KindText, to)))
	})
	t.Run("an older inbound does not shorten the window", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		b.sb.MarkInbound(tasks.WhatsApp, "c1", "", t0)
		b.sb.MarkInbound(tasks.WhatsApp, "c1", "", t0.Add(-48*time.Hour))
		require.NoError(t, send(b.client, tasks.WhatsApp, tasks.KindText, to))
	})
	t.Run("a phone recipient is the contact of that phone", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		byPhone := tasks.Recipient{Phone: "+65 9876 5432"}
		require.Equal(t, whautomate.SessionClosed, whautomate.Classify(send(b.client, tasks.WhatsApp, tasks.KindText, byPhone)))
		id, ok := b.sb.ContactID("6598765432")
		require.True(t, ok, "the send created the contact")
		require.Equal(t, id, b.sb.MarkInbound(tasks.WhatsApp, "", "+65 9876-5432", time.Time{}))
		require.NoError(t, send(b.client, tasks.WhatsApp, tasks.KindText, byPhone))
		require.NoError(t, send(b.client, tasks.WhatsApp, tasks.KindText, tasks.Recipient{ContactID: id}))
	})
	t.Run("a phone given with a contact id joins them", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		require.Equal(t, "c9", b.sb.MarkInbound(tasks.WhatsApp, "c9", "6511112222", t0))
		require.NoError(t, send(b.client, tasks.WhatsApp, tasks.KindText, tasks.Recipient{Phone: "6511112222"}))
		sent := b.sb.Sent()
		require.Equal(t, "c9", sent[len(sent)-1].ContactID)
	})
	t.Run("a client id is its own contact", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		client := tasks.Recipient{ClientID: "cl1"}
		require.Equal(t, whautomate.SessionClosed, whautomate.Classify(send(b.client, tasks.Instagram, tasks.KindText, client)))
		b.sb.MarkInbound(tasks.Instagram, "cl1", "", t0)
		require.NoError(t, send(b.client, tasks.Instagram, tasks.KindText, client))
	})
	t.Run("custom window", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{Window: time.Hour})
		b.sb.MarkInbound(tasks.WhatsApp, "c1", "", t0.Add(-time.Hour))
		require.Equal(t, whautomate.SessionClosed, whautomate.Classify(send(b.client, tasks.WhatsApp, tasks.KindText, to)))
	})
}

func TestValidation(t *testing.T) {
	b := setup(t, whautomatetest.Options{})
	b.sb.MarkInbound(tasks.WhatsApp, "c1", "", t0)
	b.sb.MarkInbound(tasks.Telegram, "c1", "", t0)
	b.sb.MarkInbound(tasks.Instagram, "c1", "", t0)
	const contact = `"contact":{"id":"c1"}`
	long := func(n int) string { return strings.Repeat("é", n) }
	tests := []struct {
		name       string
		path       string
		body       string
		wantReason string // "" for a success
	}{
		{"text ok", "whatsapp/sendtext", `{` + contact + `,"textMessage":"hi"}`, ""},
		{"text at the limit", "whatsapp/sendtext", `{` + contact + `,"textMessage":"` + long(4096) + `"}`, ""},
		{"text too long", "whatsapp/sendtext", `{` + contact + `,"textMessage":"` + long(4097) + `"}`, "exceeds 4096"},
		{"text missing", "telegram/sendtext", `{` + contact + `}`, "textMessage is required"},
		{"text blank", "instagram/sendtext", `{` + contact + `,"textMessage":"  "}`, "textMessage is required"},
		{"no recipient", "whatsapp/sendtext", `{"textMessage":"hi"}`, "one of contact, client or recepient"},
		{"two recipients", "whatsapp/sendtext", `{` + contact + `,"client":{"id":"x"},"textMessage":"hi"}`, "only one of"},
		{"three recipients", "whatsapp/sendtext", `{` + contact + `,"client":{"id":"x"},"recepient":{"phoneNumber":"6598765432"},"textMessage":"hi"}`, "only one of"},
		{"empty contact id", "whatsapp/sendtext", `{"contact":{"id":""},"textMessage":"hi"}`, "contact.id is required"},
		{"empty client id", "whatsapp/sendtext", `{"client":{},"textMessage":"hi"}`, "client.id is required"},
		{"phone with plus", "telegram/sendtext", `{"recepient":{"phoneNumber":"+6598765432"},"textMessage":"hi"}`, "digits only"},
		{"phone with spaces", "telegram/sendtext", `{"recepient":{"phoneNumber":"65 9876 5432"},"textMessage":"hi"}`, "digits only"},
		{"phone too short", "telegram/sendtext", `{"recepient":{"phoneNumber":"123"},"textMessage":"hi"}`, "7 to 15 digits"},
		{"phone missing", "telegram/sendtext", `{"recepient":{"name":"Ada"},"textMessage":"hi"}`, "phoneNumber is required"},
		{"phone ok with name", "telegram/sendtext", `{"recepient":{"phoneNumber":"6598765432","name":"Ada"},"textMessage":"hi"}`, ""},
		{"misspelt recipient", "whatsapp/sendtext", `{"recipient":{"phoneNumber":"6598765432"},"textMessage":"hi"}`, "unknown field"},
		{"not json", "whatsapp/sendtext", `textMessage=hi`, "invalid JSON"},
		{"trailing data", "whatsapp/sendtext", `{` + contact + `,"textMessage":"hi"} {}`, "trailing data"},
		{"wrong type", "whatsapp/sendtext", `{` + contact + `,"textMessage":5}`, "invalid JSON"},
		{"empty location", "whatsapp/sendtext", `{` + contact + `,"location":{},"textMessage":"hi"}`, "location.id"},
		{"location ok", "whatsapp/sendtext", `{` + contact + `,"location":{"id":"l1"},"textMessage":"hi"}`, ""},
		{"text field on media", "whatsapp/sendmedia", `{` + contact + `,"textMessage":"hi","mediaUrl":"https://x/a.jpg","mimeType":"image/jpeg"}`, "textMessage is not accepted"},

		{"media ok", "whatsapp/sendmedia", `{` + contact + `,"mediaUrl":"https://x/a.jpg","mimeType":"image/jpeg","caption":"c"}`, ""},
		{"media http", "whatsapp/sendmedia", `{` + contact + `,"mediaUrl":"http://x/a.jpg","mimeType":"image/jpeg"}`, "mediaUrl must be an https URL"},
		{"media url missing", "telegram/sendmedia", `{` + contact + `,"mimeType":"image/jpeg"}`, "mediaUrl is required"},
		{"media mime missing", "telegram/sendmedia", `{` + contact + `,"mediaUrl":"https://x/a.jpg"}`, "mimeType is required"},
		{"media mime malformed", "telegram/sendmedia", `{` + contact + `,"mediaUrl":"https://x/a.jpg","mimeType":"jpeg"}`, "mimeType is required"},
		{"telegram caption at the limit", "telegram/sendmedia", `{` + contact + `,"mediaUrl":"https://x/a.jpg","mimeType":"image/jpeg","caption":"` + long(1024) + `"}`, ""},
		{"telegram caption too long", "telegram/sendmedia", `{` + contact + `,"mediaUrl":"https://x/a.jpg","mimeType":"image/jpeg","caption":"` + long(1025) + `"}`, "caption exceeds 1024"},
		{"instagram caption", "instagram/sendmedia", `{` + contact + `,"mediaUrl":"https://x/a.jpg","mimeType":"image/jpeg","caption":"c"}`, "caption is not accepted"},

		{"whatsapp template ok", "whatsapp/sendtemplate", `{` + contact + `,"template":{"name":"t","language":"en"},"headerMediaUrl":"https://x/h.jpg","headerTextParameters":["a"],"bodyTextParameters":["b"],"buttonUrlParameters":["c"]}`, ""},
		{"whatsapp template name missing", "whatsapp/sendtemplate", `{` + contact + `,"template":{"language":"en"}}`, "template.name is required"},
		{"whatsapp template language missing", "whatsapp/sendtemplate", `{` + contact + `,"template":{"name":"t"}}`, "template.language is required"},
		{"whatsapp template missing", "whatsapp/sendtemplate", `{` + contact + `,"bodyTextParameters":["b"]}`, "template.name is required"},
		{"whatsapp template header http", "whatsapp/sendtemplate", `{` + contact + `,"template":{"name":"t","language":"en"},"headerMediaUrl":"ftp://x"}`, "headerMediaUrl must be an https URL"},
		{"telegram template ok", "telegram/sendtemplate", `{` + contact + `,"textMessage":"hi","buttons":[{"text":"Go","url":"https://x"}]}`, ""},
		{"telegram template text missing", "telegram/sendtemplate", `{` + contact + `,"buttons":[{"text":"Go"}]}`, "textMessage is required"},
		{"telegram template button text missing", "telegram/sendtemplate", `{` + contact + `,"textMessage":"hi","buttons":[{"url":"https://x"}]}`, "buttons[0].text is required"},
		{"telegram template with elements", "telegram/sendtemplate", `{` + contact + `,"textMessage":"hi","elements":[]}`, "elements is not accepted"},
		{"instagram template ok", "instagram/sendtemplate", `{` + contact + `,"elements":[{"title":"t","buttons":[{"type":"web_url","title":"Go","url":"https://x"},{"type":"postback","title":"P","payload":"p"}]}]}`, ""},
		{"messenger template no elements", "messenger/sendtemplate", `{` + contact + `,"elements":[]}`, "elements is required"},
		{"messenger template element title missing", "messenger/sendtemplate", `{` + contact + `,"elements":[{"subtitle":"s"}]}`, "elements[0].title is required"},
		{"messenger template too many elements", "messenger/sendtemplate", `{` + contact + `,"elements":[` + strings.TrimSuffix(strings.Repeat(`{"title":"t"},`, 11), ",") + `]}`, "at most 10"},
		{"messenger template bad button type", "messenger/sendtemplate", `{` + contact + `,"elements":[{"title":"t","buttons":[{"type":"call","title":"x"}]}]}`, "type must be web_url or postback"},
		{"messenger template postback without payload", "messenger/sendtemplate", `{` + contact + `,"elements":[{"title":"t","buttons":[{"type":"postback","title":"x"}]}]}`, "payload is required"},
		{"messenger template unknown element field", "messenger/sendtemplate", `{` + contact + `,"elements":[{"title":"t","imageUrl":"https://x"}]}`, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, v := post(t, b.sb.URL(), "/v1/messages/"+tt.path, whautomatetest.DefaultAPIKey, tt.body)
			if tt.wantReason == "" {
				require.Equal(t, http.StatusOK, status, "answer: %v", v)
				require.Equal(t, true, v["success"])
				data := v["data"].(map[string]any)
				require.NotEmpty(t, data["id"])
				require.Equal(t, data["id"], data["messageId"])
				return
			}
			require.Equal(t, http.StatusBadRequest, status, "answer: %v", v)
			e := v["error"].(map[string]any)
			require.Contains(t, e["message"], tt.wantReason)
			require.Equal(t, float64(100), e["code"])
		})
	}

	t.Run("unknown endpoints", func(t *testing.T) {
		tests := []struct {
			method, path string
			want         int
		}{
			{http.MethodPost, "/v1/messages/sms/sendtext", http.StatusNotFound},
			{http.MethodPost, "/v1/messages/whatsapp/sendsticker", http.StatusNotFound},
			{http.MethodPost, "/v2/messages/whatsapp/sendtext", http.StatusNotFound},
			{http.MethodGet, "/v1/messages/whatsapp/sendtext", http.StatusMethodNotAllowed},
			{http.MethodPost, "/v1/messages/c1", http.StatusMethodNotAllowed},
			{http.MethodDelete, "/v1/messages/c1", http.StatusMethodNotAllowed},
		}
		for _, tt := range tests {
			t.Run(tt.method+" "+tt.path, func(t *testing.T) {
				req, err := http.NewRequest(tt.method, b.sb.URL()+tt.path, strings.NewReader(`{}`))
				require.NoError(t, err)
				req.Header.Set("x-api-key", whautomatetest.DefaultAPIKey)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				_ = resp.Body.Close()
				require.Equal(t, tt.want, resp.StatusCode)
			})
		}
	})
}

func TestScript(t *testing.T) {
	ctx := context.Background()
	tmpl := tasks.Template{Name: "hello", Language: "en"}

	t.Run("answers are consumed in order, then normal behaviour resumes", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		b.sb.Script(whautomatetest.Match{Recipient: "c1"},
			whautomatetest.Answer{Status: 503},
			whautomatetest.Answer{Status: 429, RetryAfter: "2"},
			whautomatetest.Answer{Status: 400, Body: `{"error":{"message":"(#131026) Message undeliverable","code":131026}}`},
			whautomatetest.Answer{Status: 200, Body: `{"id":"scripted-1"}`},
		)
		var classes []whautomate.Class
		var retry []time.Duration
		for range 5 {
			res, err := b.client.SendWhatsAppTemplate(ctx, tasks.Recipient{ContactID: "c1"}, tmpl)
			classes = append(classes, whautomate.Classify(err))
			retry = append(retry, whautomate.RetryAfter(err))
			if err == nil && len(classes) == 4 {
				require.Equal(t, "scripted-1", res.ID)
			}
		}
		require.Equal(t, []whautomate.Class{whautomate.Transient, whautomate.RateLimited, whautomate.Permanent,
			whautomate.Sent, whautomate.Sent}, classes)
		require.Equal(t, []time.Duration{0, 2 * time.Second, 0, 0, 0}, retry)
		require.Equal(t, 5, b.sb.CallsFor("c1"))
		require.Len(t, b.sb.Sent(), 1, "scripted answers are not accepted sends")
	})

	t.Run("matches by path and recipient", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		b.sb.MarkInbound(tasks.WhatsApp, "c1", "", t0)
		b.sb.MarkInbound(tasks.WhatsApp, "c2", "", t0)
		b.sb.Script(whautomatetest.Match{Path: "/v1/messages/whatsapp/sendtext", Recipient: "c2"}, whautomatetest.Answer{Status: 500})
		b.sb.Script(whautomatetest.Match{Recipient: "6598765432"}, whautomatetest.Answer{Status: 403})
		b.sb.Script(whautomatetest.Match{Path: "/v1/messages/c1"}, whautomatetest.Answer{Status: 404})

		_, err := b.client.SendWhatsAppText(ctx, tasks.Recipient{ContactID: "c1"}, "hi")
		require.NoError(t, err, "other recipient")
		_, err = b.client.SendWhatsAppTemplate(ctx, tasks.Recipient{ContactID: "c2"}, tmpl)
		require.NoError(t, err, "other path")
		_, err = b.client.SendWhatsAppText(ctx, tasks.Recipient{ContactID: "c2"}, "hi")
		require.Equal(t, whautomate.Transient, whautomate.Classify(err))
		_, err = b.client.SendWhatsAppTemplate(ctx, tasks.Recipient{Phone: "+6598765432"}, tmpl)
		require.Equal(t, whautomate.Configuration, whautomate.Classify(err))
		_, err = b.client.Messages(ctx, "c1", 1, 10)
		require.Equal(t, whautomate.Permanent, whautomate.Classify(err))
		_, err = b.client.Messages(ctx, "c1", 1, 10)
		require.NoError(t, err)
	})

	t.Run("match any", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		b.sb.Script(whautomatetest.Match{}, whautomatetest.Answer{Status: 502, Body: "bad gateway"})
		_, err := b.client.SendTelegramText(ctx, tasks.Recipient{ContactID: "x"}, "hi")
		var ae *whautomate.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, 502, ae.Status)
		require.Equal(t, "bad gateway", ae.Message)
	})

	t.Run("scripts come before the key check", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		b.sb.SetAPIKey("other")
		b.sb.Script(whautomatetest.Match{}, whautomatetest.Answer{Status: 200})
		res, err := b.client.SendTelegramText(ctx, tasks.Recipient{ContactID: "x"}, "hi")
		require.NoError(t, err)
		require.Empty(t, res.ID)
	})

	t.Run("a delay longer than the client waits", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		c, err := whautomate.New(whautomate.Config{BaseURL: b.sb.URL(), APIKey: whautomatetest.DefaultAPIKey, Timeout: 50 * time.Millisecond})
		require.NoError(t, err)
		b.sb.Script(whautomatetest.Match{}, whautomatetest.Answer{Delay: time.Hour})
		_, err = c.SendTelegramText(ctx, tasks.Recipient{ContactID: "x"}, "hi")
		var te *whautomate.TransportError
		require.ErrorAs(t, err, &te)
		require.True(t, te.Sent)
		require.True(t, te.Timeout())
		require.Empty(t, b.sb.Sent())
	})

	t.Run("reset drops unconsumed scripts", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		b.sb.Script(whautomatetest.Match{}, whautomatetest.Answer{Status: 500})
		b.sb.Reset()
		_, err := b.client.SendTelegramText(ctx, tasks.Recipient{ContactID: "x"}, "hi")
		require.NoError(t, err)
	})
}

func TestDrop(t *testing.T) {
	ctx := context.Background()
	to := tasks.Recipient{ContactID: "c1"}

	t.Run("dropped before processing", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		b.sb.Script(whautomatetest.Match{Recipient: "c1"}, whautomatetest.Answer{Drop: true})
		_, err := b.client.SendTelegramText(ctx, to, "hi")
		var te *whautomate.TransportError
		require.ErrorAs(t, err, &te)
		require.True(t, te.Sent, "the request was written: ambiguous")
		require.Equal(t, whautomate.Transient, whautomate.Classify(err))
		require.Empty(t, b.sb.Sent())
		require.Equal(t, 1, b.sb.CallsFor("c1"))
		p, err := b.client.Messages(ctx, "c1", 1, 10)
		require.NoError(t, err)
		require.Empty(t, p.Messages)
	})

	t.Run("accepted, then the answer is lost", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		b.sb.Script(whautomatetest.Match{Recipient: "c1"}, whautomatetest.Answer{Drop: true, Accept: true})
		_, err := b.client.SendTelegramText(ctx, to, "hi")
		var te *whautomate.TransportError
		require.ErrorAs(t, err, &te)
		require.True(t, te.Sent)
		sent := b.sb.Sent()
		require.Len(t, sent, 1)
		p, err := b.client.Messages(ctx, "c1", 1, 10)
		require.NoError(t, err)
		require.Len(t, p.Messages, 1)
		require.Equal(t, sent[0].UpstreamID, p.Messages[0].ID)
		require.Equal(t, "hi", p.Messages[0].Text)
		require.False(t, p.Messages[0].Incoming)
	})

	t.Run("accept does not let an invalid send through", func(t *testing.T) {
		b := setup(t, whautomatetest.Options{})
		b.sb.Script(whautomatetest.Match{Recipient: "c1"}, whautomatetest.Answer{Drop: true, Accept: true})
		_, err := b.client.SendWhatsAppText(ctx, to, "hi") // window closed
		require.Equal(t, whautomate.SessionClosed, whautomate.Classify(err))
		require.Empty(t, b.sb.Sent())
	})
}

func TestMessages(t *testing.T) {
	ctx := context.Background()
	b := setup(t, whautomatetest.Options{})
	b.sb.MarkInbound(tasks.WhatsApp, "c1", "6598765432", t0.Add(-time.Hour))
	for i := range 4 {
		b.clock.Set(t0.Add(time.Duration(i) * time.Minute))
		_, err := b.client.SendWhatsAppText(ctx, tasks.Recipient{ContactID: "c1"}, fmt.Sprintf("m%d", i))
		require.NoError(t, err)
	}
	b.sb.MarkInbound(tasks.Telegram, "c1", "", t0.Add(10*time.Minute))

	tests := []struct {
		name      string
		page      int
		limit     int
		wantTexts []string
		wantMore  bool
	}{
		{"first page", 1, 2, []string{"hi", "m3"}, true},
		{"second page", 2, 2, []string{"m2", "m1"}, true},
		{"last page", 3, 2, []string{"m0", "hi"}, false},
		{"past the end", 4, 2, []string{}, false},
		{"default limit", 1, 0, []string{"hi", "m3", "m2", "m1", "m0", "hi"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := b.client.Messages(ctx, "c1", tt.page, tt.limit)
			require.NoError(t, err)
			texts := []string{}
			for _, m := range p.Messages {
				texts = append(texts, m.Text)
			}
			require.Equal(t, tt.wantTexts, texts)
			require.Equal(t, 6, p.Total)
			require.Equal(t, tt.wantMore, p.HasMore)
		})
	}

	t.Run("message objects", func(t *testing.T) {
		p, err := b.client.Messages(ctx, "c1", 1, 10)
		require.NoError(t, err)
		newest, oldest := p.Messages[0], p.Messages[len(p.Messages)-1]
		require.Equal(t, whautomate.Message{ID: newest.ID, ContactID: "c1", Phone: "6598765432", Channel: "telegram",
			Type: "text", Text: "hi", Status: "received", Incoming: true, Timestamp: t0.Add(10 * time.Minute)}, newest)
		require.Equal(t, "whatsapp", oldest.Channel)
		require.Equal(t, t0.Add(-time.Hour), oldest.Timestamp)
		out := p.Messages[1]
		require.False(t, out.Incoming)
		require.Equal(t, "sent", out.Status)
		require.Equal(t, t0.Add(3*time.Minute), out.Timestamp)
		in, ok := p.LatestIncoming(tasks.Telegram)
		require.True(t, ok)
		require.Equal(t, newest, in)
	})
	t.Run("the raw shape", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, b.sb.URL()+"/v1/messages/c1?page=1&limit=1", nil)
		require.NoError(t, err)
		req.Header.Set("x-api-key", whautomatetest.DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.JSONEq(t, `{"data":[{"id":"in-6","contact":{"id":"c1","channel":"telegram","phoneNumber":"6598765432"},
			"channel":"telegram","isIncoming":"true","type":"text","text":"hi","timestamp":"2025-03-01T12:10:00Z","status":"received"}],
			"page":1,"limit":1,"total":6}`, string(raw))
	})
	t.Run("media and templates", func(t *testing.T) {
		b.clock.Set(t0.Add(20 * time.Minute))
		_, err := b.client.SendWhatsAppMedia(ctx, tasks.Recipient{ContactID: "c1"}, tasks.Media{URL: "https://x/a.pdf", MimeType: "application/pdf", Caption: "menu"})
		require.NoError(t, err)
		_, err = b.client.SendWhatsAppTemplate(ctx, tasks.Recipient{ContactID: "c1"}, tasks.Template{Name: "order_update", Language: "en"})
		require.NoError(t, err)
		p, err := b.client.Messages(ctx, "c1", 1, 2)
		require.NoError(t, err)
		require.Equal(t, "template", p.Messages[0].Type)
		require.Equal(t, "order_update", p.Messages[0].Text)
		require.Equal(t, "document", p.Messages[1].Type)
		require.Equal(t, "https://x/a.pdf", p.Messages[1].MediaURL)
		require.Equal(t, "menu", p.Messages[1].Caption)
	})
	t.Run("unknown contact has no messages", func(t *testing.T) {
		p, err := b.client.Messages(ctx, "nobody", 1, 10)
		require.NoError(t, err)
		require.Empty(t, p.Messages)
		require.Equal(t, 0, p.Total)
	})
	t.Run("contact id with a slash", func(t *testing.T) {
		b.sb.MarkInbound(tasks.Telegram, "a/b c", "", t0)
		p, err := b.client.Messages(ctx, "a/b c", 1, 10)
		require.NoError(t, err)
		require.Len(t, p.Messages, 1)
		require.Equal(t, "a/b c", p.Messages[0].ContactID)
	})
	t.Run("bad paging", func(t *testing.T) {
		for _, q := range []string{"page=0", "page=x", "limit=0", "limit=-1"} {
			t.Run(q, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodGet, b.sb.URL()+"/v1/messages/c1?"+q, nil)
				require.NoError(t, err)
				req.Header.Set("x-api-key", whautomatetest.DefaultAPIKey)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				_ = resp.Body.Close()
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			})
		}
	})
}

func TestWebhook(t *testing.T) {
	type delivery struct {
		token string
		body  []byte
	}
	got := make(chan delivery, 10)
	var fail atomic.Bool
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{token: r.Header.Get("X-Webhook-Token"), body: b}
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(hook.Close)
	b := setup(t, whautomatetest.Options{WebhookURL: hook.URL, WebhookToken: "tok"})

	id := b.sb.MarkInbound(tasks.WhatsApp, "", "+65 9876 5432", t0)
	var d delivery
	select {
	case d = <-got:
	default:
		t.Fatal("MarkInbound returned before the webhook was delivered")
	}
	require.Equal(t, "tok", d.token)
	var ev struct {
		Event   map[string]any  `json:"event"`
		Message json.RawMessage `json:"message"`
	}
	require.NoError(t, json.Unmarshal(d.body, &ev))
	require.Equal(t, "incoming_whatsapp_message", ev.Event["type"])
	require.Equal(t, "2025-03-01T12:00:00Z", ev.Event["timeStamp"])
	require.NotEmpty(t, ev.Event["id"])
	require.NotEmpty(t, ev.Event["key"])
	var raw map[string]any
	require.NoError(t, json.Unmarshal(ev.Message, &raw))
	require.Equal(t, "whatsApp", raw["channel"], "mixed case, as upstream")
	require.Equal(t, "true", raw["isIncoming"], "a string, as upstream")
	m, err := whautomate.ParseMessage(ev.Message)
	require.NoError(t, err)
	require.Equal(t, whautomate.Message{ID: m.ID, ContactID: id, Phone: "6598765432", Channel: "whatsapp", Type: "text",
		Text: "hi", Status: "received", Incoming: true, Timestamp: t0}, m)
	parsed, err := whautomate.ParseEvent(d.body)
	require.NoError(t, err)
	require.Equal(t, whautomate.Event{Kind: whautomate.EventIncoming, Type: "incoming_whatsapp_message",
		Channel: tasks.WhatsApp, ContactID: id, Phone: "6598765432", MessageID: m.ID, Status: "received", At: t0,
		Text: "hi"}, parsed)
	require.Empty(t, b.sb.WebhookErrors())

	fail.Store(true)
	b.sb.MarkInbound(tasks.Instagram, id, "", t0)
	<-got
	errs := b.sb.WebhookErrors()
	require.Len(t, errs, 1)
	require.ErrorContains(t, errs[0], "500")
}

func TestObservation(t *testing.T) {
	ctx := context.Background()
	b := setup(t, whautomatetest.Options{})
	b.sb.MarkInbound(tasks.Telegram, "c1", "", t0)
	before := time.Now()
	res, err := b.client.SendTelegramText(ctx, tasks.Recipient{ContactID: "c1"}, "hi")
	require.NoError(t, err)
	_, err = b.client.SendTelegramTemplate(ctx, tasks.Recipient{Phone: "6598765432"}, tasks.Template{Text: "t"})
	require.NoError(t, err)
	_, err = b.client.SendTelegramText(ctx, tasks.Recipient{ContactID: "c1"}, "") // rejected
	require.Error(t, err)
	_, err = b.client.Messages(ctx, "c1", 1, 1)
	require.NoError(t, err)

	sent := b.sb.Sent()
	require.Len(t, sent, 2)
	require.Equal(t, tasks.Telegram, sent[0].Channel)
	require.Equal(t, tasks.KindText, sent[0].Kind)
	require.Equal(t, "/v1/messages/telegram/sendtext", sent[0].Path)
	require.Equal(t, "c1", sent[0].Recipient)
	require.Equal(t, "c1", sent[0].ContactID)
	require.Equal(t, res.ID, sent[0].UpstreamID)
	require.JSONEq(t, `{"contact":{"id":"c1"},"textMessage":"hi"}`, string(sent[0].Body))
	require.False(t, sent[0].At.Before(before))
	require.False(t, sent[1].At.Before(sent[0].At))
	require.Equal(t, tasks.KindTemplate, sent[1].Kind)
	require.Equal(t, "6598765432", sent[1].Recipient)
	require.NotEqual(t, "6598765432", sent[1].ContactID)

	require.Equal(t, 2, b.sb.Calls("/v1/messages/telegram/sendtext"))
	require.Equal(t, 1, b.sb.Calls("/v1/messages/c1"))
	require.Equal(t, 4, b.sb.Calls(""))
	require.Equal(t, 2, b.sb.CallsFor("c1"), "sends only")
	require.Equal(t, 1, b.sb.CallsFor("6598765432"))
	require.Equal(t, sent[0].At, b.sb.FirstCall("c1"))
	require.True(t, b.sb.FirstCall("nobody").IsZero())
	require.Equal(t, sent[1:], b.sb.SentSince(1))
	require.Equal(t, sent, b.sb.SentSince(0))
	require.Empty(t, b.sb.SentSince(2))

	b.sb.Reset()
	require.Empty(t, b.sb.Sent())
	require.Zero(t, b.sb.Calls(""))
	require.Zero(t, b.sb.CallsFor("c1"))
	require.True(t, b.sb.FirstCall("c1").IsZero())
	_, err = b.client.SendTelegramText(ctx, tasks.Recipient{ContactID: "c1"}, "after reset")
	require.NoError(t, err, "contacts survive a reset")
}

func TestDownAndLatency(t *testing.T) {
	ctx := context.Background()
	b := setup(t, whautomatetest.Options{})
	b.sb.SetDown(true)
	_, err := b.client.SendTelegramText(ctx, tasks.Recipient{ContactID: "c1"}, "hi")
	var ae *whautomate.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusServiceUnavailable, ae.Status)
	_, err = b.client.Messages(ctx, "c1", 1, 1)
	require.Equal(t, whautomate.Transient, whautomate.Classify(err))
	b.sb.SetDown(false)
	_, err = b.client.SendTelegramText(ctx, tasks.Recipient{ContactID: "c1"}, "hi")
	require.NoError(t, err)

	b.sb.SetLatency(time.Hour)
	c, err := whautomate.New(whautomate.Config{BaseURL: b.sb.URL(), APIKey: whautomatetest.DefaultAPIKey, Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	_, err = c.SendTelegramText(ctx, tasks.Recipient{ContactID: "c1"}, "hi")
	var te *whautomate.TransportError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Timeout())
}

func TestCloseStopsRequestsInFlight(t *testing.T) {
	sb := whautomatetest.NewServer(whautomatetest.Options{Latency: time.Hour})
	c, err := whautomate.New(whautomate.Config{BaseURL: sb.URL(), APIKey: whautomatetest.DefaultAPIKey, Timeout: time.Hour})
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := c.SendTelegramText(context.Background(), tasks.Recipient{ContactID: "c1"}, "hi")
		errc <- err
	}()
	poll.Eventually(t, func() bool { return sb.Calls("") == 1 }, 5*time.Second, time.Millisecond)
	closed := make(chan struct{})
	go func() {
		sb.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop a request waiting out its latency")
	}
	select {
	case err := <-errc:
		var te *whautomate.TransportError
		require.ErrorAs(t, err, &te)
	case <-time.After(5 * time.Second):
		t.Fatal("the client got no answer after Close")
	}
	sb.Close() // twice is fine
}

func TestEmbeddedHandler(t *testing.T) {
	sb := whautomatetest.New(whautomatetest.Options{APIKey: "k"})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	require.Empty(t, sb.URL())
	c, err := whautomate.New(whautomate.Config{BaseURL: srv.URL, APIKey: "k"})
	require.NoError(t, err)
	res, err := c.SendTelegramText(context.Background(), tasks.Recipient{ContactID: "c1"}, "hi")
	require.NoError(t, err)
	require.NotEmpty(t, res.ID)

	sb.Close()
	_, err = c.SendTelegramText(context.Background(), tasks.Recipient{ContactID: "c1"}, "hi")
	var ae *whautomate.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusServiceUnavailable, ae.Status)
}

func TestConcurrentUse(t *testing.T) {
	b := setup(t, whautomatetest.Options{})
	const workers, each = 32, 50
	var wg sync.WaitGroup
	var sends atomic.Int64
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				to := tasks.Recipient{ContactID: fmt.Sprintf("c%d", (w*each+i)%17)}
				switch i % 4 {
				case 0:
					b.sb.MarkInbound(tasks.WhatsApp, to.ContactID, "", time.Time{})
				case 1:
					_, err := b.client.Messages(context.Background(), to.ContactID, 1, 5)
					errs <- err
				default:
					_, err := b.client.SendTelegramText(context.Background(), to, "hi")
					sends.Add(1)
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	sent := b.sb.Sent()
	require.Equal(t, int(sends.Load()), len(sent))
	ids := map[string]bool{}
	for _, s := range sent {
		require.False(t, ids[s.UpstreamID], "duplicate id %s", s.UpstreamID)
		ids[s.UpstreamID] = true
	}
}

func BenchmarkSendText(b *testing.B) {
	sb := whautomatetest.NewServer(whautomatetest.Options{})
	defer sb.Close()
	c, err := whautomate.New(whautomate.Config{BaseURL: sb.URL(), APIKey: whautomatetest.DefaultAPIKey})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			to := tasks.Recipient{ContactID: fmt.Sprintf("c%d", n.Add(1)%1000)}
			if _, err := c.SendTelegramText(context.Background(), to, "hello"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	sb := whautomatetest.NewServer(whautomatetest.Options{WebhookURL: hook.URL, Latency: time.Millisecond})
	c, err := whautomate.New(whautomate.Config{BaseURL: sb.URL(), APIKey: whautomatetest.DefaultAPIKey})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			sb.MarkInbound(tasks.Telegram, "c1", "", time.Time{})
			_, _ = c.SendTelegramText(context.Background(), tasks.Recipient{ContactID: "c1"}, "hi")
		})
	}
	wg.Wait()
	sb.Close()
	hook.Close()
	// poll looks in this goroutine: testify's Eventually would add one.
	defer func() {
		if t.Failed() {
			buf := make([]byte, 1<<20)
			t.Logf("goroutines after Close:\n%s", buf[:runtime.Stack(buf, true)])
		}
	}()
	poll.Eventually(t, func() bool { return runtime.NumGoroutine() <= before }, 5*time.Second, 5*time.Millisecond,
		"goroutines: %d before Close, more after", before)
}
