package compliance

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// QuietHours is a span of the day, as clock times from midnight, when
// marketing messages wait. Start is inclusive, End exclusive; a span whose
// End is before its Start runs over midnight ("21:00-08:00"). The zero value
// is no quiet hours (a span cannot start and end at the same time).
type QuietHours struct {
	Start, End time.Duration
}

// ParseQuietHours reads "HH:MM-HH:MM" (24-hour clock, two digits each); the
// empty string is no quiet hours. An error quotes the value; the caller
// names the setting.
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

// Contains reports whether t's clock time, in t's own location, falls within
// the quiet hours.
func (q QuietHours) Contains(t time.Time) bool {
	if q.IsZero() {
		return false
	}
	c := sinceMidnight(t)
	if q.Start < q.End {
		return q.Start <= c && c < q.End
	}
	return c >= q.Start || c < q.End
}

func sinceMidnight(t time.Time) time.Duration {
	h, m, s := t.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
}

// maxHold bounds the search of Release: zones further apart than the free
// part of the day are never all outside the quiet hours at once.
const maxHold = 72 * time.Hour

// Release says when a message due at t may go to a recipient who may be in
// any of zones. If t is within the quiet hours in any zone, it returns the
// earliest instant at or after t that is outside the quiet hours in all of
// them, and true; otherwise t and false. No zones, or no quiet hours, is
// never quiet.
//
// Clock times are read as each zone's wall clock on each day, so a
// daylight-saving change moves the release with the clock: where the end of
// the quiet hours falls in the hour skipped in spring, the release is the
// instant the clocks jump; where it falls in the hour repeated in autumn, it
// is the first of the two.
//
// Zones that are never all outside the quiet hours at once (with 14 hours
// of quiet, two zones 12 hours apart) have no such instant; then the first
// zone, the number's main one, decides alone.
func (q QuietHours) Release(t time.Time, zones []*time.Location) (time.Time, bool) {
	if q.IsZero() || !q.quietIn(t, zones) {
		return t, false
	}
	// Every move goes to the end of a quiet span that holds in some zone, so
	// no instant skipped is free in all of them: the first instant no zone
	// moves is the earliest.
	u := t
	for u.Sub(t) <= maxHold {
		moved := false
		for _, z := range zones {
			if q.Contains(u.In(z)) {
				u, moved = q.end(u, z), true
			}
		}
		if !moved {
			return u, true
		}
	}
	return q.Release(t, zones[:1])
}

func (q QuietHours) quietIn(t time.Time, zones []*time.Location) bool {
	for _, z := range zones {
		if q.Contains(t.In(z)) {
			return true
		}
	}
	return false
}

// end returns the first instant after u, which is within the quiet hours in
// zone z, that is outside them there.
func (q QuietHours) end(u time.Time, z *time.Location) time.Time {
	l := u.In(z)
	y, m, d := l.Date()
	if q.Start > q.End && sinceMidnight(l) >= q.Start {
		d++ // the span runs over midnight: it ends tomorrow
	}
	e := time.Date(y, m, d, int(q.End/time.Hour), int(q.End%time.Hour/time.Minute), 0, 0, z)
	if p := e.Add(-time.Hour); p.After(u) && sinceMidnight(p.In(z)) == q.End {
		e = p // a clock time repeated in autumn: the first of the two
	}
	if e.After(u) && sinceMidnight(e.In(z)) == q.End {
		return e
	}
	// The end's clock time does not exist that day (skipped in spring): the
	// quiet hours end when the clocks jump. Find that instant between u,
	// quiet, and a later instant that is not.
	hi := e
	for !hi.After(u) || q.Contains(hi.In(z)) {
		hi = hi.Add(time.Hour)
	}
	lo := u
	for hi.Sub(lo) > 1 {
		mid := lo.Add(hi.Sub(lo) / 2)
		if q.Contains(mid.In(z)) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
