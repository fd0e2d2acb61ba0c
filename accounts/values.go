package accounts

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// QuietHours is a span of the day, as clock times from midnight, when
// marketing messages wait. Start is inclusive, End exclusive; a span whose
// End is before its Start runs over midnight ("21:00-08:00"). The zero value
// means no quiet hours (a span cannot start and end at the same time).
type QuietHours struct {
	Start, End time.Duration
}

// ParseQuietHours reads "HH:MM-HH:MM" (24-hour clock, two digits each); the
// empty string is no quiet hours.
func ParseQuietHours(s string) (QuietHours, error) {
	if s == "" {
		return QuietHours{}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	start, okStart := clock(from)
	end, okEnd := clock(to)
	if !ok || !okStart || !okEnd {
		return QuietHours{}, fmt.Errorf("want HH:MM-HH:MM, got %q", s)
	}
	if start == end {
		return QuietHours{}, fmt.Errorf("want a start and an end that differ, got %q", s)
	}
	return QuietHours{Start: start, End: end}, nil
}

// clock reads "HH:MM" as the time since midnight.
func clock(s string) (time.Duration, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, errH := strconv.ParseUint(s[:2], 10, 8)
	m, errM := strconv.ParseUint(s[3:], 10, 8)
	if errH != nil || errM != nil || h > 23 || m > 59 {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, true
}

// IsZero reports whether q is no quiet hours.
func (q QuietHours) IsZero() bool { return q.Start == q.End }

// Contains reports whether t's clock time, in t's own location, falls within
// the quiet hours.
func (q QuietHours) Contains(t time.Time) bool {
	if q.IsZero() {
		return false
	}
	h, m, s := t.Clock()
	c := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
	if q.Start < q.End {
		return q.Start <= c && c < q.End
	}
	return c >= q.Start || c < q.End
}

// String formats q as ParseQuietHours reads it; "" for none.
func (q QuietHours) String() string {
	if q.IsZero() {
		return ""
	}
	hm := func(d time.Duration) string {
		return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return hm(q.Start) + "-" + hm(q.End)
}

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
