package worker

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/outcome"
)

// CallbackConfig configures a Callback.
type CallbackConfig struct {
	// Redis holds the event stream (required).
	Redis redis.UniversalClient
	// URL receives each terminal outcome as a JSON POST (required).
	URL string
	// Secret signs each body: header X-Sendq-Signature is
	// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), with
	// timestamp the X-Sendq-Timestamp header (unix seconds).
	Secret string
	// Accounts are the accounts whose outcomes are called back. Defaults
	// to the one account "default".
	Accounts []string
	// Consumer names this process in the stream's consumer group. Defaults to
	// the host name and process id.
	Consumer string
	// Timeout bounds one POST. Defaults to 10 s.
	Timeout time.Duration
	// MaxBackoff caps the wait between failed deliveries. Defaults to 30 s.
	MaxBackoff time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// HTTPClient defaults to a client with Timeout.
	HTTPClient *http.Client
}

// Callback delivers terminal outcomes (sent, failed, expired, cancelled) to
// an HTTP endpoint, at least once: it reads the outcome event stream through
// a Redis consumer group, acknowledges an event only after a 2xx, retries
// with backoff, and takes over the events of a consumer that died. A repeat
// carries the same event id (X-Sendq-Event-Id and "event_id").
type Callback struct {
	cfg      CallbackConfig
	outcomes *outcome.Store
	events   *outcome.EventGroup
	log      *slog.Logger
}

// callbackGroup is the consumer group of the callback deliveries.
const callbackGroup = "callbacks"

// NewCallback checks cfg and returns a Callback.
func NewCallback(cfg CallbackConfig) (*Callback, error) {
	if cfg.Redis == nil || cfg.URL == "" {
		return nil, errors.New("callback: Redis and URL are required")
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, errors.New("SENDQ_CALLBACK_URL: want an http(s) URL")
	}
	if cfg.Consumer == "" {
		host, _ := os.Hostname()
		cfg.Consumer = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	outcomes, err := outcome.New(cfg.Redis, outcome.Config{})
	if err != nil {
		return nil, err
	}
	if len(cfg.Accounts) == 0 {
		cfg.Accounts = []string{keys.DefaultAccount}
	}
	return &Callback{cfg: cfg, outcomes: outcomes, events: outcomes.EventGroup(callbackGroup, cfg.Consumer, cfg.Accounts),
		log: cfg.Logger.With("component", "callback")}, nil
}

// CallbackEvent is the body of a callback POST.
type CallbackEvent struct {
	EventID string          `json:"event_id"`
	State   outcome.State   `json:"state"`
	At      time.Time       `json:"at"`
	Message *outcome.Record `json:"message"`
}

// Run delivers events until ctx is done.
func (c *Callback) Run(ctx context.Context) error {
	if err := c.events.Join(ctx); err != nil {
		return fmt.Errorf("callback: %w", err)
	}
	failures := 0
	for ctx.Err() == nil {
		if err := c.deliverBatch(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			d := min(time.Duration(1<<min(failures, 10))*250*time.Millisecond, c.cfg.MaxBackoff)
			c.log.Warn("callback delivery failed; will retry", "error", err, "retry_in", d)
			if sleep(ctx, d) != nil {
				break
			}
			continue
		}
		failures = 0
	}
	return nil
}

// deliverBatch delivers this consumer's pending events first (those it read
// but could not deliver), then events taken over from dead consumers, then
// new ones (waiting up to a second for them).
func (c *Callback) deliverBatch(ctx context.Context) error {
	evs, err := c.events.Pending(ctx, 100)
	if err == nil && len(evs) == 0 {
		evs, err = c.events.Claim(ctx, time.Minute, 100)
	}
	if err == nil && len(evs) == 0 {
		evs, err = c.events.Next(ctx, time.Second, 100)
	}
	if err != nil {
		return fmt.Errorf("callback: %w", err)
	}
	for _, ev := range evs {
		if err := c.deliver(ctx, ev); err != nil {
			return err
		}
		if err := c.events.Ack(ctx, ev); err != nil {
			return fmt.Errorf("callback: %w", err)
		}
	}
	return nil
}

// deliver POSTs one event if it is a terminal outcome (others need nothing).
func (c *Callback) deliver(ctx context.Context, ev outcome.Event) error {
	if !ev.State.Terminal() || ev.MessageID == "" {
		return nil
	}
	r, err := c.outcomes.Get(ctx, ev.Account, ev.MessageID)
	if errors.Is(err, outcome.ErrNotFound) {
		r = &outcome.Record{ID: ev.MessageID, Account: ev.Account, State: ev.State} // past its retention
	} else if err != nil {
		return err
	}
	body, err := json.Marshal(CallbackEvent{EventID: ev.ID, State: ev.State, At: ev.At, Message: r})
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sendq-callback")
	req.Header.Set("X-Sendq-Event-Id", ev.ID)
	req.Header.Set("X-Sendq-Timestamp", ts)
	if c.cfg.Secret != "" {
		req.Header.Set("X-Sendq-Signature", Sign(c.cfg.Secret, ts, body))
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("callback: post: %w", err)
	}
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("callback: receiver answered %d", res.StatusCode)
	}
	return nil
}

// Sign returns the X-Sendq-Signature of body sent at timestamp ts (unix
// seconds, as in X-Sendq-Timestamp): receivers compute the same and compare
// in constant time.
func Sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
