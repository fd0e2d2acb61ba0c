package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// env is the configuration read from the environment (INTERFACE.md), the
// one place outside flags where sendq reads its settings.
type env struct {
	RedisURL      string
	RedisURLSet   bool
	BaseURL       string
	APIKey        string
	LocationID    string
	HTTPAddr      string
	Concurrency   int
	Limits        map[tasks.Channel]ratelimit.Limit
	Paces         map[tasks.Channel]ratelimit.Limit
	WebhookToken  string
	AdminToken    string
	LogFormat     string
	ShutdownAfter time.Duration
	PollInterval  time.Duration
	MaxAttempts   int
	WaitReplicas  int
	ReadOnlyUI    bool
	CallbackURL   string
	CallbackKey   string
}

// loadEnv reads the environment through getenv; errors name the variable.
func loadEnv(lookup func(string) (string, bool)) (*env, error) {
	get := func(k, def string) string {
		if v, ok := lookup(k); ok {
			return v
		}
		return def
	}
	e := &env{
		RedisURL:     get("REDIS_URL", "redis://127.0.0.1:6379/0"),
		BaseURL:      get("WHAUTOMATE_BASE_URL", "https://api.whautomate.com"),
		APIKey:       get("WHAUTOMATE_API_KEY", ""),
		LocationID:   get("WHAUTOMATE_LOCATION_ID", ""),
		HTTPAddr:     get("SENDQ_HTTP_ADDR", "127.0.0.1:8080"),
		WebhookToken: get("SENDQ_WEBHOOK_TOKEN", ""),
		AdminToken:   get("SENDQ_ADMIN_TOKEN", ""),
		LogFormat:    get("SENDQ_LOG_FORMAT", "text"),
		CallbackURL:  get("SENDQ_CALLBACK_URL", ""),
		CallbackKey:  get("SENDQ_CALLBACK_SECRET", ""),
		Limits:       map[tasks.Channel]ratelimit.Limit{},
		Paces:        map[tasks.Channel]ratelimit.Limit{},
	}
	_, e.RedisURLSet = lookup("REDIS_URL")
	var err error
	if e.Concurrency, err = atoiEnv("SENDQ_CONCURRENCY", get("SENDQ_CONCURRENCY", "50"), 1); err != nil {
		return nil, err
	}
	if e.MaxAttempts, err = atoiEnv("SENDQ_MAX_ATTEMPTS", get("SENDQ_MAX_ATTEMPTS", "10"), 1); err != nil {
		return nil, err
	}
	if e.WaitReplicas, err = atoiEnv("SENDQ_REDIS_WAIT_REPLICAS", get("SENDQ_REDIS_WAIT_REPLICAS", "0"), 0); err != nil {
		return nil, err
	}
	if e.ShutdownAfter, err = durationEnv("SENDQ_SHUTDOWN_TIMEOUT", get("SENDQ_SHUTDOWN_TIMEOUT", "10s"), "10s"); err != nil {
		return nil, err
	}
	if e.PollInterval, err = durationEnv("SENDQ_POLL_INTERVAL", get("SENDQ_POLL_INTERVAL", "10ms"), "10ms"); err != nil {
		return nil, err
	}
	e.ReadOnlyUI = get("SENDQ_MONITORING_READONLY", "true") != "false"
	defaults := map[tasks.Channel][2]string{
		tasks.WhatsApp:  {"80/s", "1/6s:3"},
		tasks.Telegram:  {"30/s", "1/s"},
		tasks.Instagram: {"300/s", "0"},
		tasks.Messenger: {"300/s", "0"},
	}
	for _, ch := range tasks.Channels {
		name := strings.ToUpper(string(ch))
		for i, prefix := range []string{"SENDQ_RATE_", "SENDQ_PACE_"} {
			k := prefix + name
			l, err := ratelimit.ParseLimit(get(k, defaults[ch][i]))
			if err != nil {
				return nil, fmt.Errorf("%s: %v", k, err)
			}
			if i == 0 {
				e.Limits[ch] = l
			} else {
				e.Paces[ch] = l
			}
		}
	}
	if e.LogFormat != "text" && e.LogFormat != "json" {
		return nil, fmt.Errorf("SENDQ_LOG_FORMAT: want text or json, not %q", e.LogFormat)
	}
	return e, nil
}

func atoiEnv(name, v string, least int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < least {
		return 0, fmt.Errorf("%s: want a whole number of at least %d, not %q", name, least, v)
	}
	return n, nil
}

// durationEnv reads a positive Go duration; example is one for the error.
func durationEnv(name, v, example string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: want a positive Go duration such as %s, not %q", name, example, v)
	}
	return d, nil
}
