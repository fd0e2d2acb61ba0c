package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseLimit(t *testing.T) {
	t.Parallel()

	valid := []struct {
		name string
		in   string
		want Limit
	}{
		{"per second", "80/s", Limit{Rate: 80, Per: time.Second}},
		{"per minute", "30/m", Limit{Rate: 30, Per: time.Minute}},
		{"per hour", "100/h", Limit{Rate: 100, Per: time.Hour}},
		{"none", "0", Limit{}},
		{"none with spaces", " 0 ", Limit{}},
		{"per duration", "1/6s", Limit{Rate: 1, Per: 6 * time.Second}},
		{"per compound duration", "3/1m30s", Limit{Rate: 3, Per: 90 * time.Second}},
		{"per milliseconds", "1/250ms", Limit{Rate: 1, Per: 250 * time.Millisecond}},
		{"burst", "1/6s:3", Limit{Rate: 1, Per: 6 * time.Second, Burst: 3}},
		{"burst one", "20/s:1", Limit{Rate: 20, Per: time.Second, Burst: 1}},
		{"surrounding spaces", " 80/s ", Limit{Rate: 80, Per: time.Second}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLimit(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	invalid := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"no period", "80"},
		{"unknown unit", "80/x"},
		{"upper-case unit", "80/S"},
		{"zero rate", "0/s"},
		{"negative rate", "-5/s"},
		{"fractional rate", "1.5/s"},
		{"zero duration", "1/0s"},
		{"negative duration", "1/-6s"},
		{"zero burst", "1/6s:0"},
		{"negative burst", "1/6s:-1"},
		{"empty burst", "1/6s:"},
		{"word burst", "1/6s:lots"},
		{"none with burst", "0:3"},
		{"too long a period", "1/100000h"},
		{"junk", "fast"},
	}
	for _, tt := range invalid {
		t.Run("invalid "+tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseLimit(tt.in)
			require.ErrorIs(t, err, ErrInvalidLimit)
			require.Contains(t, err.Error(), `"`+tt.in+`"`, "the error names the input")
		})
	}
}

func TestLimitString(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		limit Limit
		want  string
	}{
		{"zero", Limit{}, "0"},
		{"per second", Limit{Rate: 80, Per: time.Second}, "80/s"},
		{"per minute", Limit{Rate: 30, Per: time.Minute}, "30/m"},
		{"per hour", Limit{Rate: 100, Per: time.Hour}, "100/h"},
		{"per duration", Limit{Rate: 1, Per: 6 * time.Second}, "1/6s"},
		{"burst", Limit{Rate: 1, Per: 6 * time.Second, Burst: 3}, "1/6s:3"},
		{"burst one is left out", Limit{Rate: 20, Per: time.Second, Burst: 1}, "20/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.limit.String())
			back, err := ParseLimit(tt.want)
			require.NoError(t, err)
			require.True(t, back.same(tt.limit), "ParseLimit(%q) = %+v, limits unlike %+v", tt.want, back, tt.limit)
		})
	}
}

func TestLimitInterval(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		limit    Limit
		interval time.Duration
		micros   int64
	}{
		{"zero", Limit{}, 0, 0},
		{"50 per second", Limit{Rate: 50, Per: time.Second}, 20 * time.Millisecond, 20000},
		{"80 per second", Limit{Rate: 80, Per: time.Second}, 12500 * time.Microsecond, 12500},
		{"3 per second rounds up", Limit{Rate: 3, Per: time.Second}, 333333333 * time.Nanosecond, 333334},
		{"1 per 6 seconds", Limit{Rate: 1, Per: 6 * time.Second}, 6 * time.Second, 6000000},
		{"faster than a microsecond", Limit{Rate: 5000000, Per: time.Second}, 200 * time.Nanosecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.interval, tt.limit.Interval())
			require.Equal(t, tt.micros, tt.limit.micros())
			require.Equal(t, tt.limit.Rate == 0, tt.limit.IsZero())
		})
	}
}
