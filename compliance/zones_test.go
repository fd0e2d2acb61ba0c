package compliance_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/compliance"
)

func TestZones(t *testing.T) {
	t.Parallel()
	sg := zone(t, "Asia/Singapore")
	tests := []struct {
		name     string
		phone    string
		fallback *time.Location
		want     []string
	}{
		{"Digits", "6591234567", nil, []string{"Asia/Singapore"}},
		{"Plus", "+6591234567", nil, []string{"Asia/Singapore"}},
		{"SeveralZones", "61898765432", nil, []string{"Australia/Adelaide", "Australia/Perth"}},
		{"Empty", "", sg, []string{"Asia/Singapore"}},
		{"EmptyNoFallback", "", nil, []string{"UTC"}},
		{"UnknownCountryCode", "99912345678", sg, []string{"Asia/Singapore"}},
		{"NotANumber", "contact-1", sg, []string{"Asia/Singapore"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, names(compliance.Zones(tt.phone, tt.fallback)))
		})
	}
}

func BenchmarkZones(b *testing.B) {
	for b.Loop() {
		compliance.Zones("12085550123", time.UTC)
	}
}
