package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/compliance"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// env is the configuration read from the environment (README
// "Configuration"), the one place outside flags where sendq reads its
// settings.
type env struct {
	RedisURL    string
	RedisURLSet bool
	// Accounts are the configured accounts: SENDQ_ACCOUNTS_FILE's, or the
	// one "default" of the WHAUTOMATE_* and SENDQ_RATE/PACE_* variables
	// (README "Accounts").
	Accounts    *accounts.Set
	HTTPAddr    string
	Concurrency int
	AdminToken  string
	// APIToken is the HTTP API's token for every account (SENDQ_API_TOKEN).
	APIToken      string
	LogFormat     string
	ShutdownAfter time.Duration
	PollInterval  time.Duration
	MaxAttempts   int
	WaitReplicas  int
	ReadOnlyUI    bool
	CallbackURL   string
	CallbackKey   string
	// Keywords are the webhook's opt-out and opt-in keywords
	// (SENDQ_OPTOUT_KEYWORDS, SENDQ_OPTIN_KEYWORDS).
	Keywords compliance.Keywords
}

// envVar is one variable sendq reads, with its default and meaning: loadEnv
// takes the defaults from here, and `sendq --help` prints the table.
type envVar struct{ name, def, meaning string }

// envVars are the variables of README "Configuration", in its order; the
// per-channel ones stand as SENDQ_RATE_<CHANNEL> and SENDQ_PACE_<CHANNEL>.
var envVars = []envVar{
	{"REDIS_URL", "redis://127.0.0.1:6379/0", "redis://, rediss://, redis-sentinel://[:pw@]h:p[,h:p]/db?master=NAME or redis-cluster://h:p[,h:p]"},
	{"WHAUTOMATE_BASE_URL", "https://api.whautomate.com", "the API host (https://api.in.whautomate.com for India accounts)"},
	{"WHAUTOMATE_API_KEY", "", "required by worker and messages; sent as x-api-key, never logged"},
	{"WHAUTOMATE_LOCATION_ID", "", "sent as location: {id} when set"},
	{"WHAUTOMATE_RATE_LIMIT", "300/m", "the account's budget: every API request of the account, shared by every worker; 60/m on a trial account; 0 for none"},
	{"SENDQ_ACCOUNTS_FILE", "", "a YAML file of accounts (README \"Accounts\"); when set, the WHAUTOMATE_* variables are not read"},
	{"SENDQ_API_TOKEN", "", "bearer token of the HTTP API (/api/v1/) for every account; without one the API answers 401"},
	{"SENDQ_HTTP_ADDR", "127.0.0.1:8080", "the worker's HTTP server; empty disables it"},
	{"SENDQ_CONCURRENCY", "50", "concurrent sends per worker process, for each channel"},
	{"SENDQ_RATE_<CHANNEL>", channelDefaults(accounts.DefaultRates()), "per-channel limit shared by every worker on the same Redis: N/s, N/m, N/h, or 0 for none"},
	{"SENDQ_PACE_<CHANNEL>", channelDefaults(accounts.DefaultPaces()), "per-recipient pace: N/duration[:burst]"},
	{"SENDQ_QUIET_HOURS", "", "HH:MM-HH:MM in the recipient's local time: marketing templates wait until it ends"},
	{"SENDQ_TIMEZONE", "UTC", "the zone of recipients whose phone number tells none (contact and client ids)"},
	{"SENDQ_MESSAGING_LIMIT", "unlimited", "the WhatsApp messaging limit tier: 250, 2000, 10000, 100000 or unlimited"},
	{"SENDQ_OPTOUT_KEYWORDS", strings.Join(compliance.DefaultOptOut, ","), "comma-separated whole-message keywords that opt the sender out of marketing"},
	{"SENDQ_OPTIN_KEYWORDS", strings.Join(compliance.DefaultOptIn, ","), "comma-separated whole-message keywords that opt the sender back in"},
	{"SENDQ_WEBHOOK_TOKEN", "", "webhook calls must carry X-Webhook-Token with this value"},
	{"SENDQ_ADMIN_TOKEN", "", "/monitoring/ and /metrics need Authorization: Bearer <token>"},
	{"SENDQ_LOG_FORMAT", "text", "text or json"},
	{"SENDQ_MAX_ATTEMPTS", "10", "transient failures before a message fails (waits never count)"},
	{"SENDQ_SHUTDOWN_TIMEOUT", "10s", "how long SIGTERM waits for in-flight sends"},
	{"SENDQ_POLL_INTERVAL", "10ms", "how often an idle worker looks for new messages"},
	{"SENDQ_REDIS_WAIT_REPLICAS", "0", "replicas that must hold each send lease and outcome (Redis WAIT)"},
	{"SENDQ_MONITORING_READONLY", "true", "false lets the web UI change tasks"},
	{"SENDQ_CALLBACK_URL", "", "receives every final outcome as a JSON POST, at least once"},
	{"SENDQ_CALLBACK_SECRET", "", "signs callbacks: X-Sendq-Signature: sha256=HMAC(secret, X-Sendq-Timestamp + \".\" + body)"},
}

// channelDefaults lists the channels' defaults of SENDQ_RATE_<CHANNEL>
// (accounts.DefaultRates) or SENDQ_PACE_<CHANNEL> (accounts.DefaultPaces).
func channelDefaults(limits map[tasks.Channel]ratelimit.Limit) string {
	var parts []string
	for _, ch := range tasks.Channels {
		parts = append(parts, string(ch)+" "+limits[ch].String())
	}
	return strings.Join(parts, ", ")
}

// envNames are the names of every variable in envVars.
func envNames() []string {
	var names []string
	for _, v := range envVars {
		names = append(names, v.name)
	}
	return names
}

// envDefault is name's default in envVars ("" when it has none).
func envDefault(name string) string {
	for _, v := range envVars {
		if v.name == name {
			return v.def
		}
	}
	return ""
}

// loadEnv reads the environment through lookup; errors name the variable.
func loadEnv(lookup func(string) (string, bool)) (*env, error) {
	get := func(k string) string {
		if v, ok := lookup(k); ok {
			return v
		}
		return envDefault(k)
	}
	e := &env{
		RedisURL:    get("REDIS_URL"),
		HTTPAddr:    get("SENDQ_HTTP_ADDR"),
		AdminToken:  get("SENDQ_ADMIN_TOKEN"),
		APIToken:    get("SENDQ_API_TOKEN"),
		LogFormat:   get("SENDQ_LOG_FORMAT"),
		CallbackURL: get("SENDQ_CALLBACK_URL"),
		CallbackKey: get("SENDQ_CALLBACK_SECRET"),
	}
	_, e.RedisURLSet = lookup("REDIS_URL")
	var err error
	if e.Concurrency, err = atoiEnv("SENDQ_CONCURRENCY", get("SENDQ_CONCURRENCY"), 1); err != nil {
		return nil, err
	}
	if e.MaxAttempts, err = atoiEnv("SENDQ_MAX_ATTEMPTS", get("SENDQ_MAX_ATTEMPTS"), 1); err != nil {
		return nil, err
	}
	if e.WaitReplicas, err = atoiEnv("SENDQ_REDIS_WAIT_REPLICAS", get("SENDQ_REDIS_WAIT_REPLICAS"), 0); err != nil {
		return nil, err
	}
	if e.ShutdownAfter, err = durationEnv("SENDQ_SHUTDOWN_TIMEOUT", get("SENDQ_SHUTDOWN_TIMEOUT"), "10s"); err != nil {
		return nil, err
	}
	if e.PollInterval, err = durationEnv("SENDQ_POLL_INTERVAL", get("SENDQ_POLL_INTERVAL"), "10ms"); err != nil {
		return nil, err
	}
	e.ReadOnlyUI = get("SENDQ_MONITORING_READONLY") != "false"
	if e.Keywords, err = keywordsEnv(get); err != nil {
		return nil, err
	}
	if e.Accounts, err = accounts.Configure(accounts.Lookup(lookup), os.ReadFile); err != nil {
		return nil, err
	}
	if e.LogFormat != "text" && e.LogFormat != "json" {
		return nil, fmt.Errorf("SENDQ_LOG_FORMAT: want text or json, not %q", e.LogFormat)
	}
	return e, nil
}

// keywordsEnv reads SENDQ_OPTOUT_KEYWORDS and SENDQ_OPTIN_KEYWORDS.
func keywordsEnv(get func(string) string) (compliance.Keywords, error) {
	lists := map[string][]string{}
	for _, name := range []string{"SENDQ_OPTOUT_KEYWORDS", "SENDQ_OPTIN_KEYWORDS"} {
		l, err := compliance.ParseKeywordList(get(name))
		if err != nil {
			return compliance.Keywords{}, fmt.Errorf("%s: %v", name, err)
		}
		lists[name] = l
	}
	k, err := compliance.NewKeywords(lists["SENDQ_OPTOUT_KEYWORDS"], lists["SENDQ_OPTIN_KEYWORDS"])
	if err != nil {
		return k, fmt.Errorf("SENDQ_OPTOUT_KEYWORDS, SENDQ_OPTIN_KEYWORDS: %v", err)
	}
	return k, nil
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
