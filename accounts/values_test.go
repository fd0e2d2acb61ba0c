package accounts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
)

func TestParseQuietHours(t *testing.T) {
	t.Parallel()
	valid := []struct {
		in   string
		want accounts.QuietHours
	}{
		{"", accounts.QuietHours{}},
		{"21:00-08:00", accounts.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour}},
		{"00:00-23:59", accounts.QuietHours{End: 23*time.Hour + 59*time.Minute}},
		{"12:30-13:45", accounts.QuietHours{Start: 12*time.Hour + 30*time.Minute, End: 13*time.Hour + 45*time.Minute}},
	}
	for _, tt := range valid {
		got, err := accounts.ParseQuietHours(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
		require.Equal(t, tt.in, got.String(), "String reads back")
	}
	for _, in := range []string{"21:00", "9:00-17:00", "21:00-24:00", "21:60-08:00", "21-08", "21:00 - 08:00",
		"+1:00-08:00", "21:00-08:00-09:00", "ab:cd-ef:gh", "10:00-10:00"} {
		_, err := accounts.ParseQuietHours(in)
		require.Error(t, err, in)
	}
}

func TestQuietHoursContains(t *testing.T) {
	t.Parallel()
	night, _ := accounts.ParseQuietHours("21:00-08:00")
	lunch, _ := accounts.ParseQuietHours("12:00-13:00")
	sg, err := time.LoadLocation("Asia/Singapore")
	require.NoError(t, err)
	at := func(hh, mm int) time.Time { return time.Date(2026, 3, 1, hh, mm, 0, 0, time.UTC) }
	tests := []struct {
		q    accounts.QuietHours
		t    time.Time
		want bool
	}{
		{night, at(20, 59), false},
		{night, at(21, 0), true},
		{night, at(23, 59), true},
		{night, at(0, 0), true},
		{night, at(7, 59), true},
		{night, at(8, 0), false},
		{lunch, at(11, 59), false},
		{lunch, at(12, 0), true},
		{lunch, at(12, 59), true},
		{lunch, at(13, 0), false},
		{accounts.QuietHours{}, at(12, 30), false},
		// 14:00 UTC is 22:00 in Singapore: the clock of t's own zone counts.
		{night, at(14, 0).In(sg), true},
		{night, at(14, 0), false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.q.Contains(tt.t), "%s at %s", tt.q, tt.t)
	}
}

func TestParseMessagingLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]accounts.MessagingLimit{
		"250": 250, "2000": 2000, "10000": 10000, "100000": 100000, "unlimited": accounts.Unlimited,
	} {
		got, err := accounts.ParseMessagingLimit(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		require.Equal(t, in, got.String(), "String reads back")
	}
	for _, in := range []string{"", "0", "1000", "250 ", "Unlimited", "2e3", "-250", "1K"} {
		_, err := accounts.ParseMessagingLimit(in)
		require.Error(t, err, in)
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "default", "clinic-sg", "acct_01", "0", strings.Repeat("x", 64)} {
		require.True(t, accounts.ValidID(id), id)
	}
	for _, id := range []string{"", "Clinic", "a b", "a.b", "a/b", "accounts[0]", "é", strings.Repeat("x", 65)} {
		require.False(t, accounts.ValidID(id), id)
	}
}
