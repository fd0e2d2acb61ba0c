package accounts

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sendq/sendq/compliance"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// QuietHours is a span of the day when marketing messages wait, in the
// recipient's local time (see package compliance, which applies it).
type QuietHours = compliance.QuietHours

// ParseQuietHours reads "HH:MM-HH:MM"; the empty string is no quiet hours.
func ParseQuietHours(s string) (QuietHours, error) { return compliance.ParseQuietHours(s) }

// MessagingLimit is a WhatsApp messaging limit tier: how many unique
// recipients templates that open a conversation may reach in any rolling 24
// hours. Unlimited (0) is no limit.
type MessagingLimit int

// Unlimited is the MessagingLimit of no limit.
const Unlimited MessagingLimit = 0

// messagingTiers are the tiers Meta grants.
var messagingTiers = []MessagingLimit{250, 2000, 10000, 100000}

// ParseMessagingLimit reads a tier: "250", "2000", "10000", "100000" or
// "unlimited".
func ParseMessagingLimit(s string) (MessagingLimit, error) {
	if s == "unlimited" {
		return Unlimited, nil
	}
	for _, t := range messagingTiers {
		if s == strconv.Itoa(int(t)) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("want 250, 2000, 10000, 100000 or unlimited, got %q", s)
}

// String formats m as ParseMessagingLimit reads it.
func (m MessagingLimit) String() string {
	if m == Unlimited {
		return "unlimited"
	}
	return strconv.Itoa(int(m))
}

// ValidID reports whether id can name an account: 1 to 64 of a-z, 0-9, _
// and -.
func ValidID(id string) bool { return tasks.ValidAccountID(id) }

// parseBudget reads an account's budget: N/s, N/m or N/h, or 0 for none. A
// budget is spread evenly, so neither a burst nor another period is taken.
func parseBudget(s string) (ratelimit.Limit, error) {
	l, err := ratelimit.ParseLimit(s)
	even := l.Burst <= 1 && (l.Per == time.Second || l.Per == time.Minute || l.Per == time.Hour)
	if err != nil || (!l.IsZero() && !even) {
		return ratelimit.Limit{}, fmt.Errorf("want N/s, N/m or N/h, got %q", s)
	}
	return ratelimit.Limit{Rate: l.Rate, Per: l.Per}, nil
}

// parseLimit reads a channel cap or pace with ratelimit.ParseLimit; its
// error drops the package's prefix, which the field name replaces.
func parseLimit(s string) (ratelimit.Limit, error) {
	l, err := ratelimit.ParseLimit(s)
	if err != nil {
		return l, &ConfigError{Msg: strings.TrimPrefix(err.Error(), "ratelimit: "), Err: err}
	}
	return l, nil
}

// parseBaseURL checks an API host: an http(s) URL with a host and no user
// information, query or fragment.
func parseBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("want an http(s) URL such as %s, got %q", DefaultBaseURL, s)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("want an http(s) URL such as %s, without user, query or fragment, got %q",
			DefaultBaseURL, u.Redacted())
	}
	return s, nil
}

// parseTimezone loads an IANA time zone; the empty string is UTC.
func parseTimezone(s string) (*time.Location, error) {
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Errorf("want an IANA time zone such as Asia/Singapore, got %q", s)
	}
	return loc, nil
}

// validKey reports whether an API key can stand in a request header, as
// the Whautomate client requires: printable ASCII without spaces.
func validKey(k string) bool {
	for _, r := range k {
		if r <= ' ' || r >= 0x7f {
			return false
		}
	}
	return k != ""
}

// validVarName reports whether s can name an environment variable. A value
// that cannot is never echoed: it may be a key written in the wrong field.
func validVarName(s string) bool {
	for i, r := range s {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}
