package whautomate

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
)

const testKey = "test-key-123"

// request is what the fake upstream received.
type request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// fake is an httptest upstream that records requests and answers with its
// handler (by default a success with an id).
type fake struct {
	srv *httptest.Server

	mu      sync.Mutex
	reqs    []request
	handler http.HandlerFunc
}

func (f *fake) last(t *testing.T) request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(t, f.reqs, "no request reached the server")
	return f.reqs[len(f.reqs)-1]
}

func (f *fake) answer(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handler = h
}

// setup starts a fake upstream and a client for it; cfg's zero fields are
// filled in.
func setup(t *testing.T, cfg Config) (*Client, *fake) {
	t.Helper()
	f := &fake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)})
		h := f.handler
		f.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true,"data":{"id":"up-1","messageId":"up-1"}}`)
	}))
	t.Cleanup(f.srv.Close)
	if cfg.BaseURL == "" {
		cfg.BaseURL = f.srv.URL
	}
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return c, f
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"minimal", Config{APIKey: "k"}, ""},
		{"no key", Config{}, "Config.APIKey is required"},
		{"key with a newline", Config{APIKey: "k\n"}, "Config.APIKey contains"},
		{"key with a space", Config{APIKey: "a b"}, "Config.APIKey contains"},
		{"india host", Config{APIKey: "k", BaseURL: "https://api.in.whautomate.com"}, ""},
		{"http with prefix", Config{APIKey: "k", BaseURL: "http://127.0.0.1:9/proxy/"}, ""},
		{"no scheme", Config{APIKey: "k", BaseURL: "api.whautomate.com"}, "Config.BaseURL"},
		{"ftp", Config{APIKey: "k", BaseURL: "ftp://api.whautomate.com"}, "Config.BaseURL"},
		{"unparsable", Config{APIKey: "k", BaseURL: "http://[::1"}, "Config.BaseURL"},
		{"query", Config{APIKey: "k", BaseURL: "https://h/?a=1"}, "Config.BaseURL"},
		{"negative timeout", Config{APIKey: "k", Timeout: -time.Second}, "Config.Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				if tt.cfg.APIKey != "" {
					require.NotContains(t, err.Error(), tt.cfg.APIKey+"\x00")
				}
				return
			}
			require.NoError(t, err)
			require.NotNil(t, c)
		})
	}
	t.Run("defaults", func(t *testing.T) {
		c, err := New(Config{APIKey: "k"})
		require.NoError(t, err)
		require.Equal(t, DefaultBaseURL, c.base)
		require.Equal(t, 15*time.Second, c.timeout)
		require.Equal(t, "sendq/"+Version, c.ua)
		tr, ok := c.hc.Transport.(*http.Transport)
		require.True(t, ok)
		require.Equal(t, 256, tr.MaxIdleConnsPerHost)
		require.False(t, tr.DisableKeepAlives)
	})
}

func TestEndpoints(t *testing.T) {
	ctx := context.Background()
	contact := tasks.Recipient{ContactID: "c1"}
	media := tasks.Media{URL: "https://cdn.example.com/a.jpg", MimeType: "image/jpeg", Caption: "menu"}
	cards := tasks.Template{Elements: []tasks.Element{
		{Title: "Table for two", Subtitle: "Tonight", ImageURL: "https://cdn.example.com/t.jpg", Buttons: []tasks.Button{
			{Text: "Book", URL: "https://example.com/book"}, {Text: "Call me", Payload: "CALL"}, {Text: "Later"}}},
		{Title: "Just a title"},
	}}
	const cardsJSON = `"elements":[
		{"title":"Table for two","subtitle":"Tonight","image_url":"https://cdn.example.com/t.jpg","buttons":[
			{"type":"web_url","title":"Book","url":"https://example.com/book"},
			{"type":"postback","title":"Call me","payload":"CALL"},
			{"type":"postback","title":"Later","payload":"Later"}]},
		{"title":"Just a title"}]`
	tests := []struct {
		name     string
		call     func(c *Client) (*SendResult, error)
		path     string
		wantBody string
	}{
		{"whatsapp text", func(c *Client) (*SendResult, error) { return c.SendWhatsAppText(ctx, contact, "hello") },
			"/v1/messages/whatsapp/sendtext", `{"contact":{"id":"c1"},"textMessage":"hello"}`},
		{"whatsapp media", func(c *Client) (*SendResult, error) { return c.SendWhatsAppMedia(ctx, contact, media) },
			"/v1/messages/whatsapp/sendmedia", `{"contact":{"id":"c1"},"mediaUrl":"https://cdn.example.com/a.jpg","mimeType":"image/jpeg","caption":"menu"}`},
		{"whatsapp template", func(c *Client) (*SendResult, error) {
			return c.SendWhatsAppTemplate(ctx, contact, tasks.Template{Name: "order_update", Language: "en",
				Params: []string{"Ada", "#1042"}, HeaderMediaURL: "https://cdn.example.com/h.jpg",
				HeaderParams: []string{"May"}, ButtonURLParams: []string{"track/1042"}})
		}, "/v1/messages/whatsapp/sendtemplate", `{"contact":{"id":"c1"},"template":{"name":"order_update","language":"en"},
			"headerMediaUrl":"https://cdn.example.com/h.jpg","headerTextParameters":["May"],
			"bodyTextParameters":["Ada","#1042"],"buttonUrlParameters":["track/1042"]}`},
		{"whatsapp template minimal", func(c *Client) (*SendResult, error) {
			return c.SendWhatsAppTemplate(ctx, contact, tasks.Template{Name: "hello_world", Language: "en_US"})
		}, "/v1/messages/whatsapp/sendtemplate", `{"contact":{"id":"c1"},"template":{"name":"hello_world","language":"en_US"}}`},
		{"telegram text", func(c *Client) (*SendResult, error) { return c.SendTelegramText(ctx, contact, "hello") },
			"/v1/messages/telegram/sendtext", `{"contact":{"id":"c1"},"textMessage":"hello"}`},
		{"telegram media", func(c *Client) (*SendResult, error) { return c.SendTelegramMedia(ctx, contact, media) },
			"/v1/messages/telegram/sendmedia", `{"contact":{"id":"c1"},"mediaUrl":"https://cdn.example.com/a.jpg","mimeType":"image/jpeg","caption":"menu"}`},
		{"telegram template", func(c *Client) (*SendResult, error) {
			return c.SendTelegramTemplate(ctx, contact, tasks.Template{Text: "Your table is ready.", Buttons: []tasks.Button{
				{Text: "Directions", URL: "https://example.com/map"}, {Text: "Cancel", Payload: "cancel-1"}}})
		}, "/v1/messages/telegram/sendtemplate", `{"contact":{"id":"c1"},"textMessage":"Your table is ready.",
			"buttons":[{"text":"Directions","url":"https://example.com/map"},{"text":"Cancel","callback_data":"cancel-1"}]}`},
		{"instagram text", func(c *Client) (*SendResult, error) { return c.SendInstagramText(ctx, contact, "hello") },
			"/v1/messages/instagram/sendtext", `{"contact":{"id":"c1"},"textMessage":"hello"}`},
		{"instagram media drops the caption", func(c *Client) (*SendResult, error) { return c.SendInstagramMedia(ctx, contact, media) },
			"/v1/messages/instagram/sendmedia", `{"contact":{"id":"c1"},"mediaUrl":"https://cdn.example.com/a.jpg","mimeType":"image/jpeg"}`},
		{"instagram template", func(c *Client) (*SendResult, error) { return c.SendInstagramTemplate(ctx, contact, cards) },
			"/v1/messages/instagram/sendtemplate", `{"contact":{"id":"c1"},` + cardsJSON + `}`},
		{"messenger text", func(c *Client) (*SendResult, error) { return c.SendMessengerText(ctx, contact, "hello") },
			"/v1/messages/messenger/sendtext", `{"contact":{"id":"c1"},"textMessage":"hello"}`},
		{"messenger media drops the caption", func(c *Client) (*SendResult, error) { return c.SendMessengerMedia(ctx, contact, media) },
			"/v1/messages/messenger/sendmedia", `{"contact":{"id":"c1"},"mediaUrl":"https://cdn.example.com/a.jpg","mimeType":"image/jpeg"}`},
		{"messenger template", func(c *Client) (*SendResult, error) { return c.SendMessengerTemplate(ctx, contact, cards) },
			"/v1/messages/messenger/sendtemplate", `{"contact":{"id":"c1"},` + cardsJSON + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, Config{})
			res, err := tt.call(c)
			require.NoError(t, err)
			require.Equal(t, "up-1", res.ID)
			r := f.last(t)
			require.Equal(t, http.MethodPost, r.Method)
			require.Equal(t, tt.path, r.Path)
			require.Empty(t, r.RawQuery)
			require.JSONEq(t, tt.wantBody, r.Body)
			require.Equal(t, testKey, r.Header.Get("x-api-key"))
			require.Equal(t, "application/json", r.Header.Get("Content-Type"))
			require.Equal(t, "application/json", r.Header.Get("Accept"))
			require.Equal(t, "sendq/dev", r.Header.Get("User-Agent"))
			require.Empty(t, r.Header.Get("Authorization"))
		})
	}

	t.Run("messages", func(t *testing.T) {
		c, f := setup(t, Config{})
		f.answer(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"data":[{"id":"m2","isIncoming":"false","timestamp":"2024-05-06T07:08:10Z"},
				{"id":"m1","isIncoming":"true","timestamp":"2024-05-06T07:08:09Z"}],"total":2}`)
		})
		p, err := c.Messages(ctx, "c 1/2", 2, 25)
		require.NoError(t, err)
		r := f.last(t)
		require.Equal(t, http.MethodGet, r.Method)
		require.Equal(t, "/v1/messages/c 1/2", r.Path)
		require.Equal(t, "limit=25&page=2", r.RawQuery)
		require.Empty(t, r.Body)
		require.Equal(t, testKey, r.Header.Get("x-api-key"))
		require.Equal(t, "application/json", r.Header.Get("Accept"))
		require.Empty(t, r.Header.Get("Content-Type"))
		require.Equal(t, "sendq/dev", r.Header.Get("User-Agent"))
		require.Len(t, p.Messages, 2)
		require.Equal(t, 2, p.Page)
		require.Equal(t, 25, p.Limit)
		require.Equal(t, 2, p.Total)
		require.False(t, p.HasMore)
		in, ok := p.LatestIncoming(tasks.WhatsApp)
		require.True(t, ok)
		require.Equal(t, "m1", in.ID)
	})
}

func TestRecipientAndLocation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		location string
		to       tasks.Recipient
		wantBody string
	}{
		{"contact", "", tasks.Recipient{ContactID: "c1"}, `{"contact":{"id":"c1"},"textMessage":"hi"}`},
		{"client", "", tasks.Recipient{ClientID: "cl1"}, `{"client":{"id":"cl1"},"textMessage":"hi"}`},
		{"recepient with name", "", tasks.Recipient{Phone: "6598765432", Name: "Ada"},
			`{"recepient":{"phoneNumber":"6598765432","name":"Ada"},"textMessage":"hi"}`},
		{"recepient without name", "", tasks.Recipient{Phone: "6598765432"},
			`{"recepient":{"phoneNumber":"6598765432"},"textMessage":"hi"}`},
		{"phone reduced to digits", "", tasks.Recipient{Phone: "+65 (9876) 54-32"},
			`{"recepient":{"phoneNumber":"6598765432"},"textMessage":"hi"}`},
		{"location", "loc-9", tasks.Recipient{ContactID: "c1"}, `{"contact":{"id":"c1"},"location":{"id":"loc-9"},"textMessage":"hi"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, Config{LocationID: tt.location, UserAgent: "custom/1"})
			_, err := c.SendTelegramText(ctx, tt.to, "hi")
			require.NoError(t, err)
			r := f.last(t)
			require.JSONEq(t, tt.wantBody, r.Body)
			require.Equal(t, "custom/1", r.Header.Get("User-Agent"))
		})
	}
}

func TestSendDispatch(t *testing.T) {
	ctx := context.Background()
	to := tasks.Recipient{ContactID: "c1"}
	for _, ch := range tasks.Channels {
		for _, kind := range tasks.Kinds {
			t.Run(string(ch)+"/"+string(kind), func(t *testing.T) {
				c, f := setup(t, Config{})
				m := &tasks.Message{ID: "m1", Channel: ch, Kind: kind, To: to, Text: "hi",
					Media:    &tasks.Media{URL: "https://x/y.png", MimeType: "image/png"},
					Template: &tasks.Template{Name: "n", Language: "en", Text: "t", Elements: []tasks.Element{{Title: "x"}}}}
				res, err := c.Send(ctx, m)
				require.NoError(t, err)
				require.Equal(t, "up-1", res.ID)
				require.Equal(t, "/v1/messages/"+string(ch)+"/send"+string(kind), f.last(t).Path)
			})
		}
	}
}

func TestInvalidRequestsNeverReachTheAPI(t *testing.T) {
	ctx := context.Background()
	to := tasks.Recipient{ContactID: "c1"}
	tests := []struct {
		name string
		call func(c *Client) error
	}{
		{"nil message", func(c *Client) error { _, err := c.Send(ctx, nil); return err }},
		{"unknown kind", func(c *Client) error {
			_, err := c.Send(ctx, &tasks.Message{Channel: tasks.WhatsApp, Kind: "sticker", To: to})
			return err
		}},
		{"unknown channel", func(c *Client) error {
			_, err := c.Send(ctx, &tasks.Message{Channel: "sms", Kind: tasks.KindText, To: to, Text: "x"})
			return err
		}},
		{"media without media", func(c *Client) error {
			_, err := c.Send(ctx, &tasks.Message{Channel: tasks.WhatsApp, Kind: tasks.KindMedia, To: to})
			return err
		}},
		{"template without template", func(c *Client) error {
			_, err := c.Send(ctx, &tasks.Message{Channel: tasks.WhatsApp, Kind: tasks.KindTemplate, To: to})
			return err
		}},
		{"no recipient", func(c *Client) error { _, err := c.SendWhatsAppText(ctx, tasks.Recipient{}, "x"); return err }},
		{"two recipients", func(c *Client) error {
			_, err := c.SendWhatsAppText(ctx, tasks.Recipient{ContactID: "c", Phone: "65"}, "x")
			return err
		}},
		{"phone with letters", func(c *Client) error {
			_, err := c.SendWhatsAppText(ctx, tasks.Recipient{Phone: "65-CALL-NOW"}, "x")
			return err
		}},
		{"phone without digits", func(c *Client) error { _, err := c.SendWhatsAppText(ctx, tasks.Recipient{Phone: "+"}, "x"); return err }},
		{"messages without contact", func(c *Client) error { _, err := c.Messages(ctx, " ", 1, 10); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, Config{})
			err := tt.call(c)
			require.ErrorIs(t, err, ErrInvalid)
			require.Equal(t, Permanent, Classify(err))
			f.mu.Lock()
			defer f.mu.Unlock()
			require.Empty(t, f.reqs)
		})
	}
}

func TestResponses(t *testing.T) {
	ctx := context.Background()
	to := tasks.Recipient{ContactID: "c1"}
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		wantID    string
		wantClass Class
		wantRetry time.Duration
	}{
		{"data.id", 200, nil, `{"success":true,"data":{"id":"a"}}`, "a", Sent, 0},
		{"messageId number", 200, nil, `{"messageId":77}`, "77", Sent, 0},
		{"no id", 202, nil, `{}`, "", Sent, 0},
		{"success false", 200, nil, `{"success":false,"error":{"message":"undeliverable","code":131026}}`, "", Permanent, 0},
		{"window closed", 400, nil, `{"error":{"message":"Message failed to send because more than 24 hours have passed since the customer last replied to this number.","code":131047}}`, "", SessionClosed, 0},
		{"429 seconds", 429, map[string]string{"Retry-After": "3"}, `{"error":"rate limited"}`, "", RateLimited, 3 * time.Second},
		{"429 date", 429, map[string]string{"Retry-After": testNow.Add(time.Minute).Format(http.TimeFormat)}, ``, "", RateLimited, time.Minute},
		{"401", 401, nil, `{"message":"invalid api key"}`, "", Configuration, 0},
		{"503", 503, nil, `upstream down`, "", Transient, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, Config{})
			c.now = func() time.Time { return testNow }
			f.answer(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			res, err := c.SendWhatsAppText(ctx, to, "hi")
			require.Equal(t, tt.wantClass, Classify(err), "err: %v", err)
			require.Equal(t, tt.wantRetry, RetryAfter(err))
			if tt.wantClass == Sent {
				require.Equal(t, tt.wantID, res.ID)
			}
		})
	}

	t.Run("messages error", func(t *testing.T) {
		c, f := setup(t, Config{})
		f.answer(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"contact not found"}`)
		})
		_, err := c.Messages(ctx, "c1", 1, 10)
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, 404, ae.Status)
		require.Equal(t, "contact not found", ae.Message)
	})
	t.Run("messages not json", func(t *testing.T) {
		c, f := setup(t, Config{})
		f.answer(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `<html>`) })
		_, err := c.Messages(ctx, "c1", 0, 0)
		require.ErrorContains(t, err, "not JSON")
		require.Equal(t, "page=1", f.last(t).RawQuery)
	})
}

func TestTheKeyNeverAppearsInErrors(t *testing.T) {
	const key = "sk_live_9f8e7d6c5b4a"
	ctx := context.Background()
	to := tasks.Recipient{ContactID: "c1"}
	echo := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, strings.ReplaceAll(body, "KEY", r.Header.Get("x-api-key")))
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"json error echoing the key", echo(401, `{"error":{"message":"api key KEY is not valid here"}}`)},
		{"text error echoing the key", echo(403, `forbidden for KEY`)},
		{"2xx failure echoing the key", echo(200, `{"success":false,"message":"KEY suspended"}`)},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, Config{APIKey: key, Timeout: 50 * time.Millisecond})
			f.answer(tt.handler)
			_, err := c.SendWhatsAppText(ctx, to, "hi")
			require.Error(t, err)
			require.NotContains(t, err.Error(), key)
			_, err = c.Messages(ctx, "c1", 1, 1)
			require.Error(t, err)
			require.NotContains(t, err.Error(), key)
		})
	}
}

func TestTransportErrors(t *testing.T) {
	ctx := context.Background()
	to := tasks.Recipient{ContactID: "c1"}

	t.Run("timeout after the request was written is ambiguous", func(t *testing.T) {
		c, f := setup(t, Config{Timeout: 50 * time.Millisecond})
		f.answer(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		_, err := c.SendWhatsAppText(ctx, to, "hi")
		var te *TransportError
		require.ErrorAs(t, err, &te)
		require.True(t, te.Sent)
		require.True(t, te.Timeout())
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, "POST /v1/messages/whatsapp/sendtext", te.Op)
		require.Contains(t, err.Error(), "outcome unknown")
		require.Equal(t, Transient, Classify(err))
	})

	t.Run("the caller's deadline counts too", func(t *testing.T) {
		c, f := setup(t, Config{})
		f.answer(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := c.Messages(cctx, "c1", 1, 10)
		var te *TransportError
		require.ErrorAs(t, err, &te)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("connection refused was not sent", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		c, err := New(Config{BaseURL: "http://" + addr, APIKey: testKey})
		require.NoError(t, err)
		_, err = c.SendWhatsAppText(ctx, to, "hi")
		var te *TransportError
		require.ErrorAs(t, err, &te)
		require.False(t, te.Sent)
		require.NotContains(t, err.Error(), "outcome unknown")
		require.Equal(t, Transient, Classify(err))
	})

	t.Run("cancelled before sending was not sent", func(t *testing.T) {
		c, _ := setup(t, Config{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.SendWhatsAppText(cctx, to, "hi")
		var te *TransportError
		require.ErrorAs(t, err, &te)
		require.False(t, te.Sent)
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("connection closed without an answer is ambiguous", func(t *testing.T) {
		c, f := setup(t, Config{})
		f.answer(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		})
		_, err := c.SendWhatsAppText(ctx, to, "hi")
		var te *TransportError
		require.ErrorAs(t, err, &te)
		require.True(t, te.Sent)
		require.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "cause: %v", te.Err)
	})

	t.Run("the answer cut short is ambiguous", func(t *testing.T) {
		c, f := setup(t, Config{})
		f.answer(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"id":`)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		})
		_, err := c.SendWhatsAppText(ctx, to, "hi")
		var te *TransportError
		require.ErrorAs(t, err, &te)
		require.True(t, te.Sent)
	})
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	c, f := setup(t, Config{})
	f.answer(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
	})
	_, err := c.SendWhatsAppText(context.Background(), tasks.Recipient{ContactID: "c1"}, "hi")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusMovedPermanently, ae.Status)
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.reqs, 1)
}

func TestConcurrentSends(t *testing.T) {
	c, f := setup(t, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			_, err := c.SendTelegramText(context.Background(), tasks.Recipient{ContactID: "c"}, strings.Repeat("x", i%7+1))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.reqs, 200)
}
