package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidLimit is wrapped by every error about a malformed limit: a string
// ParseLimit cannot read, or a Limit given to Reserve that makes no sense.
var ErrInvalidLimit = errors.New("ratelimit: invalid limit")

// maxSpan bounds a limit's period and burst tolerance. Redis keeps the
// schedule in microseconds in a Lua number (a float64, exact up to 2^53), so
// spans must stay far below the ~285 years that leaves after the Unix epoch.
const maxSpan = 10 * 365 * 24 * time.Hour

// Limit is N events per Per; the zero Limit means no limit.
//
// Events are spread evenly: one every Interval (Per/Rate), with Burst events
// allowed at once after a quiet spell. Any window of length Per holds at most
// Rate + Burst − 1 events.
type Limit struct {
	// Rate is how many events Per allows; 0 means no limit.
	Rate int
	// Per is the period Rate counts over, such as time.Second.
	Per time.Duration
	// Burst is how many events may go at once after a quiet spell, borrowing
	// from the quota that follows. Defaults to 1 (no burst: events are
	// exactly Interval apart).
	Burst int
}

// ParseLimit reads a limit as written in SENDQ_RATE_* and SENDQ_PACE_*:
// "80/s", "30/m", "100/h", "0" for none, "1/6s" (N per any Go duration,
// for a per-recipient pace), each with an optional burst suffix (":3", as in
// "1/6s:3"). Errors wrap ErrInvalidLimit and quote the input.
func ParseLimit(s string) (Limit, error) {
	in := s
	bad := func(why string) (Limit, error) {
		return Limit{}, fmt.Errorf("%w %q: %s", ErrInvalidLimit, in, why)
	}
	s = strings.TrimSpace(s)
	if s == "0" {
		return Limit{}, nil
	}
	if s == "" {
		return bad("want N/s, N/m, N/h, N/<duration>, optionally :burst, or 0 for none")
	}
	spec, burstText, hasBurst := strings.Cut(s, ":")
	nText, perText, ok := strings.Cut(spec, "/")
	if !ok {
		return bad("want N/s, N/m, N/h, N/<duration>, optionally :burst, or 0 for none")
	}
	n, err := strconv.Atoi(nText)
	if err != nil || n < 0 {
		return bad("the count before / must be a whole number")
	}
	if n == 0 {
		return bad("a rate of 0 would send nothing; write 0 for no limit")
	}
	var per time.Duration
	switch perText {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		per, err = time.ParseDuration(perText)
		if err != nil || per <= 0 {
			return bad("the period after / must be s, m, h or a positive duration such as 6s")
		}
	}
	l := Limit{Rate: n, Per: per}
	if hasBurst {
		b, err := strconv.Atoi(burstText)
		if err != nil || b < 1 {
			return bad("the burst after : must be a whole number of at least 1")
		}
		l.Burst = b
	}
	if err := l.validate(); err != nil {
		return bad(err.Error())
	}
	return l, nil
}

// String formats l the way ParseLimit reads it: "0" for no limit, "80/s",
// "30/m", "100/h", otherwise "N/<duration>", with ":burst" when Burst > 1.
func (l Limit) String() string {
	if l.IsZero() {
		return "0"
	}
	var per string
	switch l.Per {
	case time.Second:
		per = "s"
	case time.Minute:
		per = "m"
	case time.Hour:
		per = "h"
	default:
		per = l.Per.String()
	}
	s := strconv.Itoa(l.Rate) + "/" + per
	if l.Burst > 1 {
		s += ":" + strconv.Itoa(l.Burst)
	}
	return s
}

// IsZero reports whether l is no limit at all (Rate 0).
func (l Limit) IsZero() bool { return l.Rate == 0 }

// Interval is the emission interval Per/Rate: the spacing of events sent at
// the limit. It is 0 for the zero Limit. Redis keeps time in microseconds and
// rounds the interval up to the next one, so a limit never runs faster than
// it says (and anything faster than a million per second acts as that).
func (l Limit) Interval() time.Duration {
	if l.Rate <= 0 || l.Per <= 0 {
		return 0
	}
	return l.Per / time.Duration(l.Rate)
}

// burst is Burst with its default applied.
func (l Limit) burst() int {
	if l.Burst < 1 {
		return 1
	}
	return l.Burst
}

// validate rejects limits Reserve cannot apply. The zero Limit is valid.
func (l Limit) validate() error {
	switch {
	case l.Rate < 0:
		return errors.New("the rate must not be negative")
	case l.Rate == 0:
		return nil
	case l.Per <= 0:
		return errors.New("the period must be positive")
	case l.Per > maxSpan:
		return fmt.Errorf("the period must be at most %v", maxSpan)
	case l.Burst < 0:
		return errors.New("the burst must not be negative")
	case int64(l.burst()-1) > int64(maxSpan/time.Microsecond)/l.micros():
		return fmt.Errorf("burst × interval must be at most %v", maxSpan)
	}
	return nil
}

// micros is the emission interval in whole microseconds, rounded up (at
// least 1), as the Lua script uses it; 0 for the zero Limit.
func (l Limit) micros() int64 {
	if l.Rate <= 0 || l.Per <= 0 {
		return 0
	}
	ns := int64(l.Per) / int64(l.Rate)
	if int64(l.Per)%int64(l.Rate) != 0 {
		ns++
	}
	return (ns + 999) / 1000
}

// tolerance is how far ahead of the schedule an event may go, (Burst−1)
// intervals, in microseconds: GCRA's τ.
func (l Limit) tolerance() int64 {
	return int64(l.burst()-1) * l.micros()
}

// same reports whether l and o limit alike (Burst 0 and 1 are the same).
func (l Limit) same(o Limit) bool {
	if l.IsZero() || o.IsZero() {
		return l.IsZero() == o.IsZero()
	}
	return l.micros() == o.micros() && l.burst() == o.burst()
}
