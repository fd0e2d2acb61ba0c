package accounts

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
)

// Default is the id of the one account made from the environment.
const Default = "default"

// DefaultBaseURL is the API host of an account that names none.
const DefaultBaseURL = whautomate.DefaultBaseURL

// DefaultBudget is an account's budget when none is configured: Whautomate
// allows a subscribed account 300 requests a minute (a trial account 60).
var DefaultBudget = ratelimit.Limit{Rate: 300, Per: time.Minute}

// DefaultRates returns the per-channel caps used where SENDQ_RATE_* and the
// file say nothing: Meta's 80/s WhatsApp, 30/s Telegram, 300/s Instagram and
// Messenger. Each call returns a new map.
func DefaultRates() map[tasks.Channel]ratelimit.Limit {
	return map[tasks.Channel]ratelimit.Limit{
		tasks.WhatsApp:  {Rate: 80, Per: time.Second},
		tasks.Telegram:  {Rate: 30, Per: time.Second},
		tasks.Instagram: {Rate: 300, Per: time.Second},
		tasks.Messenger: {Rate: 300, Per: time.Second},
	}
}

// DefaultPaces returns the per-recipient paces used where SENDQ_PACE_* and
// the file say nothing: WhatsApp's pair limit (one message per 6 s, with a
// burst of 3), Telegram's 1/s per chat, none on Instagram and Messenger (the
// zero Limit). Each call returns a new map.
func DefaultPaces() map[tasks.Channel]ratelimit.Limit {
	return map[tasks.Channel]ratelimit.Limit{
		tasks.WhatsApp:  {Rate: 1, Per: 6 * time.Second, Burst: 3},
		tasks.Telegram:  {Rate: 1, Per: time.Second},
		tasks.Instagram: {},
		tasks.Messenger: {},
	}
}

// Account is one Whautomate account that sendq sends for: its key and host,
// and the limits and rules that hold for its messages, across every worker
// process.
//
// Printing an Account (fmt's verbs, slog) never shows its key or tokens:
// String, Format and LogValue leave them out, and JSON skips them. The maps
// of an Account from a Set are shared; treat them as read-only.
type Account struct {
	// ID names the account: 1-64 of a-z 0-9 _ - (see ValidID).
	ID string
	// APIKey is sent as x-api-key. Only the environment's default account can
	// lack one; see Set.RequireKeys.
	APIKey string `json:"-"`
	// BaseURL is the API host, such as https://api.in.whautomate.com.
	BaseURL string
	// LocationID, when set, is sent as the location of every request.
	LocationID string
	// Budget is the one limit every request of the account takes: sends of
	// every channel and look-ups alike. The zero Limit means none.
	Budget ratelimit.Limit
	// Rates are the per-channel caps under the budget, one for each channel;
	// a zero Limit means none.
	Rates map[tasks.Channel]ratelimit.Limit
	// Paces are the per-recipient paces, one for each channel; a zero Limit
	// means none.
	Paces map[tasks.Channel]ratelimit.Limit
	// WebhookToken, when set, is the X-Webhook-Token the account's webhook
	// calls must carry.
	WebhookToken string `json:"-"`
	// APIToken, when set, is a bearer token of the HTTP API that reaches this
	// account only (SENDQ_API_TOKEN, which reaches every account, is not an
	// account's).
	APIToken string `json:"-"`
	// QuietHours is when marketing messages wait, in the recipient's local
	// time; the zero value means none.
	QuietHours QuietHours
	// Timezone is the zone of recipients whose phone number tells none. Never
	// nil in an Account from FromEnv or Load.
	Timezone *time.Location
	// MessagingLimit is the WhatsApp messaging limit tier; 0 is unlimited.
	MessagingLimit MessagingLimit
}

// String is the account's id, host and budget: "clinic-sg
// (https://api.whautomate.com, budget 300/m)".
func (a Account) String() string {
	return fmt.Sprintf("%s (%s, budget %s)", a.ID, a.BaseURL, a.Budget)
}

// Format prints String for every verb but %+v and %#v, which print every
// field but the secrets, of which they say only whether each is set. fmt
// never reaches the fields itself, so no verb prints the key.
func (a Account) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && (f.Flag('+') || f.Flag('#')):
		_, _ = io.WriteString(f, a.details())
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(a.String()))
	default:
		_, _ = io.WriteString(f, a.String())
	}
}

// details is every field, the secrets only as set or unset.
func (a Account) details() string {
	set := func(s string) string {
		if s == "" {
			return "unset"
		}
		return "set"
	}
	quiet := a.QuietHours.String()
	if quiet == "" {
		quiet = "none"
	}
	return fmt.Sprintf("{ID:%s BaseURL:%s LocationID:%s Budget:%s Rates:%s Paces:%s "+
		"QuietHours:%s Timezone:%s MessagingLimit:%s APIKey:%s WebhookToken:%s APIToken:%s}",
		a.ID, a.BaseURL, a.LocationID, a.Budget, limits(a.Rates), limits(a.Paces),
		quiet, a.Timezone, a.MessagingLimit, set(a.APIKey), set(a.WebhookToken), set(a.APIToken))
}

// limits formats a map of limits in the channels' order.
func limits(m map[tasks.Channel]ratelimit.Limit) string {
	parts := make([]string, 0, len(m))
	for _, ch := range tasks.Channels {
		if l, ok := m[ch]; ok {
			parts = append(parts, string(ch)+"="+l.String())
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// LogValue makes slog log the account as a group of id, base_url, budget
// and location_id (when set): never the key or the tokens.
func (a Account) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", a.ID),
		slog.String("base_url", a.BaseURL),
		slog.String("budget", a.Budget.String()),
	}
	if a.LocationID != "" {
		attrs = append(attrs, slog.String("location_id", a.LocationID))
	}
	return slog.GroupValue(attrs...)
}
