package compliance_test

import (
	"testing"
	"time"
	_ "time/tzdata" // the same zones wherever the tests run

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/compliance"
)

func TestParseQuietHours(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want compliance.QuietHours
		bad  string // a substring of the error; "" when valid
	}{
		{in: "", want: compliance.QuietHours{}},
		{in: "21:00-08:00", want: compliance.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour}},
		{in: "00:00-23:59", want: compliance.QuietHours{End: 23*time.Hour + 59*time.Minute}},
		{in: "12:30-14:00", want: compliance.QuietHours{Start: 12*time.Hour + 30*time.Minute, End: 14 * time.Hour}},
		{in: "21:00", bad: `"21:00"`},
		{in: "9:00-08:00", bad: `"9:00-08:00"`},
		{in: "24:00-08:00", bad: `"24:00-08:00"`},
		{in: "21:60-08:00", bad: `"21:60-08:00"`},
		{in: "21:00 - 08:00", bad: `"21:00 - 08:00"`},
		{in: "08:00-08:00", bad: "differ"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			q, err := compliance.ParseQuietHours(tt.in)
			if tt.bad != "" {
				require.ErrorContains(t, err, tt.bad)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, q)
			require.Equal(t, tt.in, q.String(), "String reads back")
		})
	}
}

func TestQuietHoursContains(t *testing.T) {
	t.Parallel()
	night := mustQuiet(t, "21:00-08:00")
	noon := mustQuiet(t, "12:00-14:00")
	at := func(h, m int) time.Time { return time.Date(2026, 5, 1, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name string
		q    compliance.QuietHours
		t    time.Time
		want bool
	}{
		{"StartIsQuiet", night, at(21, 0), true},
		{"BeforeStart", night, at(20, 59), false},
		{"Midnight", night, at(0, 0), true},
		{"JustBeforeEnd", night, at(7, 59), true},
		{"EndIsFree", night, at(8, 0), false},
		{"DaySpanInside", noon, at(13, 0), true},
		{"DaySpanAfter", noon, at(14, 0), false},
		{"DaySpanBefore", noon, at(11, 59), false},
		{"None", compliance.QuietHours{}, at(3, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.q.Contains(tt.t))
		})
	}
}

func TestQuietHoursRelease(t *testing.T) {
	t.Parallel()
	var (
		ny       = zone(t, "America/New_York")
		honolulu = zone(t, "Pacific/Honolulu")
		tokyo    = zone(t, "Asia/Tokyo")
		plus12   = time.FixedZone("UTC+12", 12*3600)
		utc      = []*time.Location{time.UTC}
		night    = mustQuiet(t, "21:00-08:00")
		utcAt    = func(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, time.UTC) }
	)
	tests := []struct {
		name  string
		q     compliance.QuietHours
		t     time.Time
		zones []*time.Location
		want  time.Time // zero: not held
	}{
		{name: "NotQuiet", q: night, t: utcAt(5, 1, 12, 0), zones: utc},
		{name: "NoQuietHours", q: compliance.QuietHours{}, t: utcAt(5, 1, 3, 0), zones: utc},
		{name: "NoZones", q: night, t: utcAt(5, 1, 3, 0)},
		{name: "AfterMidnight", q: night, t: utcAt(5, 1, 3, 0), zones: utc, want: utcAt(5, 1, 8, 0)},
		{name: "BeforeMidnight", q: night, t: utcAt(5, 1, 22, 15), zones: utc, want: utcAt(5, 2, 8, 0)},
		{name: "AtStart", q: night, t: utcAt(5, 1, 21, 0), zones: utc, want: utcAt(5, 2, 8, 0)},
		{name: "AtEndIsFree", q: night, t: utcAt(5, 1, 8, 0), zones: utc},
		{name: "DaySpan", q: mustQuiet(t, "12:00-14:00"), t: utcAt(5, 1, 12, 30), zones: utc, want: utcAt(5, 1, 14, 0)},
		// New York springs forward on 2026-03-08 at 02:00 EST (07:00Z): 08:00
		// that morning is EDT, 12:00Z, not 13:00Z.
		{name: "SpringForward", q: night, t: utcAt(3, 8, 5, 0), zones: []*time.Location{ny}, want: utcAt(3, 8, 12, 0)},
		// It falls back on 2026-11-01 at 02:00 EDT (06:00Z): 08:00 is EST, 13:00Z.
		{name: "FallBack", q: night, t: utcAt(11, 1, 4, 0), zones: []*time.Location{ny}, want: utcAt(11, 1, 13, 0)},
		// 02:30 does not exist on 2026-03-08 in New York: the quiet hours end
		// when the clocks jump from 02:00 EST to 03:00 EDT, 07:00Z.
		{name: "EndSkippedInSpring", q: mustQuiet(t, "22:00-02:30"), t: utcAt(3, 8, 6, 0), zones: []*time.Location{ny}, want: utcAt(3, 8, 7, 0)},
		// 01:30 happens twice on 2026-11-01: first at 05:30Z (EDT) …
		{name: "EndRepeatedInAutumn", q: mustQuiet(t, "22:00-01:30"), t: utcAt(11, 1, 4, 30), zones: []*time.Location{ny}, want: utcAt(11, 1, 5, 30)},
		// … and, for a message due in the repeated hour (01:10 EST), at 06:30Z.
		{name: "DueInRepeatedHour", q: mustQuiet(t, "22:00-01:30"), t: utcAt(11, 1, 6, 10), zones: []*time.Location{ny}, want: utcAt(11, 1, 6, 30)},
		// Honolulu (UTC-10) and Tokyo (UTC+9) are both free 23:00Z-07:00Z.
		{name: "TwoZones", q: night, t: utcAt(5, 1, 12, 0), zones: []*time.Location{honolulu, tokyo}, want: utcAt(5, 1, 23, 0)},
		{name: "TwoZonesOtherOrder", q: night, t: utcAt(5, 1, 12, 0), zones: []*time.Location{tokyo, honolulu}, want: utcAt(5, 1, 23, 0)},
		// With 14 hours of quiet, zones 12 hours apart are never both free:
		// the first zone decides alone.
		{name: "NeverFreeInAll", q: mustQuiet(t, "18:00-08:00"), t: utcAt(5, 1, 4, 0), zones: []*time.Location{time.UTC, plus12}, want: utcAt(5, 1, 8, 0)},
		{name: "NeverFreeInAllFirstFree", q: mustQuiet(t, "18:00-08:00"), t: utcAt(5, 1, 12, 0), zones: []*time.Location{time.UTC, plus12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, held := tt.q.Release(tt.t, tt.zones)
			if tt.want.IsZero() {
				require.False(t, held)
				require.Equal(t, tt.t, got)
				return
			}
			require.True(t, held)
			require.Equal(t, tt.want, got.UTC(), "got %s", got.UTC())
		})
	}
}

// TestReleaseByPhone is issue 17's check: with quiet hours 21:00-08:00 at
// one fixed clock, the release of a marketing message to each of 20 numbers
// in 12 countries, worked out by hand in each number's zones.
//
// The clock is Sunday 2026-03-08 12:30Z: the United States and Canada sprang
// forward that morning (08:00 is EDT/CDT/MDT/PDT now); Australia (AEDT,
// ACDT) and New Zealand (NZDT) still keep summer time; Mexico, Brazil, India,
// Indonesia, Singapore, Japan, Korea and Arizona keep none.
func TestReleaseByPhone(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 8, 12, 30, 0, 0, time.UTC)
	night := mustQuiet(t, "21:00-08:00")
	utcAt := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name  string
		phone string
		zones []string
		want  time.Time // zero: not held
	}{
		// 05:30 PDT → 08:00 PDT.
		{"US/LosAngeles", "12135550123", []string{"America/Los_Angeles"}, utcAt(8, 15, 0)},
		// 02:30 HST → 08:00 HST.
		{"US/Honolulu", "18085550123", []string{"Pacific/Honolulu"}, utcAt(8, 18, 0)},
		// 07:30 CDT → 08:00 CDT.
		{"US/Chicago", "13125550123", []string{"America/Chicago"}, utcAt(8, 13, 0)},
		// 08:30 EDT: out of quiet hours.
		{"US/NewYork", "12125550123", []string{"America/New_York"}, time.Time{}},
		// Idaho, two zones: 06:30 MDT in Boise, 05:30 PDT in the north; 08:00
		// has come in both at 08:00 PDT (09:00 MDT).
		{"US/Idaho", "12085550123", []string{"America/Boise", "America/Los_Angeles"}, utcAt(8, 15, 0)},
		// South Dakota, two zones: 06:30 MDT, 07:30 CDT; at 08:00 MDT it is
		// 09:00 CDT.
		{"US/SouthDakota", "16055550123", []string{"America/Denver", "America/North_Dakota/Center"}, utcAt(8, 14, 0)},
		// 05:30 PDT → 08:00 PDT.
		{"CA/Vancouver", "16045550123", []string{"America/Vancouver"}, utcAt(8, 15, 0)},
		// 06:30 CST (no DST since 2022) → 08:00 CST.
		{"MX/MexicoCity", "525512345678", []string{"America/Mexico_City"}, utcAt(8, 14, 0)},
		// 18:00 IST: not yet quiet.
		{"IN/Mobile", "919876543210", []string{"Asia/Calcutta"}, time.Time{}},
		// 09:30 BRT: out of quiet hours.
		{"BR/SaoPaulo", "5511987654321", []string{"America/Sao_Paulo"}, time.Time{}},
		// 07:30 ACRT (UTC-5) → 08:00.
		{"BR/RioBranco", "556832123456", []string{"America/Rio_Branco"}, utcAt(8, 13, 0)},
		// 23:30 AEDT → 08:00 AEDT on Monday the 9th.
		{"AU/Sydney", "61298765432", []string{"Australia/Sydney"}, utcAt(8, 21, 0)},
		// Area code 8, two zones: 23:00 ACDT in Adelaide (08:00 ACDT is
		// 21:30Z, but that is 05:30 in Perth), 20:30 AWST in Perth: 08:00 AWST
		// on the 9th, when Adelaide is at 10:30.
		{"AU/AdelaidePerth", "61898765432", []string{"Australia/Adelaide", "Australia/Perth"}, utcAt(9, 0, 0)},
		// 19:30 WIB: not yet quiet.
		{"ID/Jakarta", "62215551234", []string{"Asia/Jakarta"}, time.Time{}},
		// 21:30 WIT → 08:00 WIT on the 9th.
		{"ID/Jayapura", "62967531234", []string{"Asia/Jayapura"}, utcAt(8, 23, 0)},
		// 20:30 SGT: not yet quiet.
		{"SG/Mobile", "6591234567", []string{"Asia/Singapore"}, time.Time{}},
		// 21:30 JST → 08:00 JST on the 9th.
		{"JP/Tokyo", "81312345678", []string{"Asia/Tokyo"}, utcAt(8, 23, 0)},
		// 21:30 KST → 08:00 KST on the 9th.
		{"KR/Seoul", "8223456789", []string{"Asia/Seoul"}, utcAt(8, 23, 0)},
		// 01:30 NZDT on the 9th → 08:00 NZDT.
		{"NZ/Mobile", "6421234567", []string{"Pacific/Auckland"}, utcAt(8, 19, 0)},
		// 12:30 GMT: out of quiet hours.
		{"GB/London", "442079460958", []string{"Europe/London"}, time.Time{}},
	}
	require.Len(t, tests, 20)
	countries := map[string]bool{}
	for _, tt := range tests {
		countries[tt.name[:2]] = true
	}
	require.Len(t, countries, 12)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			zones := compliance.Zones(tt.phone, time.UTC)
			require.Equal(t, tt.zones, names(zones))
			got, held := night.Release(now, zones)
			if tt.want.IsZero() {
				require.False(t, held, "released at %s", got.UTC())
				require.Equal(t, now, got)
				return
			}
			require.True(t, held)
			require.Equal(t, tt.want, got.UTC(), "got %s", got.UTC())
			for _, z := range zones {
				require.False(t, night.Contains(got.In(z)), "free in %s", z)
				require.True(t, night.Contains(got.Add(-time.Minute).In(z)) || anyQuiet(night, got.Add(-time.Minute), zones),
					"a minute earlier is quiet somewhere")
			}
		})
	}
}

// TestReleaseByPhoneLater holds, at a later clock (18:30Z, past midnight
// in Asia), the numbers of the table above that its clock found outside
// quiet hours: India's, Singapore's and Jakarta's.
func TestReleaseByPhoneLater(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 8, 18, 30, 0, 0, time.UTC)
	night := mustQuiet(t, "21:00-08:00")
	for _, tt := range []struct {
		name, phone string
		want        time.Time
	}{
		// 00:00 IST on the 9th → 08:00 IST (UTC+5:30).
		{"IN/Mobile", "919876543210", time.Date(2026, 3, 9, 2, 30, 0, 0, time.UTC)},
		// 02:30 SGT on the 9th → 08:00 SGT (UTC+8).
		{"SG/Mobile", "6591234567", time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)},
		// 01:30 WIB on the 9th → 08:00 WIB (UTC+7).
		{"ID/Jakarta", "62215551234", time.Date(2026, 3, 9, 1, 0, 0, 0, time.UTC)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, held := night.Release(now, compliance.Zones(tt.phone, time.UTC))
			require.True(t, held)
			require.Equal(t, tt.want, got.UTC())
		})
	}
}

func anyQuiet(q compliance.QuietHours, t time.Time, zones []*time.Location) bool {
	for _, z := range zones {
		if q.Contains(t.In(z)) {
			return true
		}
	}
	return false
}

func names(zones []*time.Location) []string {
	var s []string
	for _, z := range zones {
		s = append(s, z.String())
	}
	return s
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	require.NoError(t, err)
	return z
}

func mustQuiet(t *testing.T, s string) compliance.QuietHours {
	t.Helper()
	q, err := compliance.ParseQuietHours(s)
	require.NoError(t, err)
	return q
}
