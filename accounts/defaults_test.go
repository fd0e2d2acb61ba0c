package accounts_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
)

// TestDefaultsAreFreshMaps: the defaults are returned anew on each call, so
// that a caller that changes one changes no one else's.
func TestDefaultsAreFreshMaps(t *testing.T) {
	t.Parallel()
	a, b := accounts.DefaultRates(), accounts.DefaultRates()
	a["whatsapp"] = accounts.DefaultBudget
	require.NotEqual(t, a, b, "each call returns a new map")
}
