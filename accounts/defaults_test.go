package accounts_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/worker"
)

// TestDefaultsMatchTheirUsers keeps the defaults here equal to those the
// worker and the client apply today, while both are in use.
func TestDefaultsMatchTheirUsers(t *testing.T) {
	t.Parallel()
	require.Equal(t, whautomate.DefaultBaseURL, accounts.DefaultBaseURL)
	require.Equal(t, worker.DefaultLimits, accounts.DefaultRates())
	paces := accounts.DefaultPaces()
	for ch, l := range paces {
		if l.IsZero() {
			delete(paces, ch) // the worker leaves a channel without a pace out
		}
	}
	require.Equal(t, worker.DefaultRecipientLimits, paces)

	a, b := accounts.DefaultRates(), accounts.DefaultRates()
	a["whatsapp"] = accounts.DefaultBudget
	require.NotEqual(t, a, b, "each call returns a new map")
}
