package worker

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/whautomate"
)

func TestLogErrKeepsPersonalDataOut(t *testing.T) {
	err := &whautomate.APIError{Status: 400, Code: 131026, HasCode: true,
		Message: "Message undeliverable to 6598765432: 'your code is 1234'"}
	require.Equal(t, "API answered 400 (code 131026)", logErr(err))
	require.Equal(t, "API answered 503", logErr(&whautomate.APIError{Status: 503, Message: "down for +65 9876 5432"}))
	require.Equal(t, "boom", logErr(errors.New("boom")))
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n        int
		u        float64
		min, max float64 // seconds
	}{
		{0, 0, 0.75, 0.75}, {0, 0.999, 1.24, 1.25}, {1, 0.5, 2, 2}, {3, 0.5, 8, 8},
		{9, 0.5, 300, 300}, {30, 0.5, 300, 300},
	} {
		d := backoff(tc.n, tc.u).Seconds()
		require.GreaterOrEqual(t, d, tc.min, "n=%d u=%v", tc.n, tc.u)
		require.LessOrEqual(t, d, tc.max, "n=%d u=%v", tc.n, tc.u)
	}
	require.True(t, isFailure(errors.New("x")))
	require.False(t, isFailure(deferFor(0, "waiting")), "a wait is not a failure")
	require.Equal(t, 3e9+1e9, float64(retryDelay(5, deferFor(3e9, "x"), nil)), "a deferral comes back after its own delay, rounded up")
}
