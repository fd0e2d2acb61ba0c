package accounts_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
)

// FuzzLoad checks that Load never panics, that every error it returns is
// one line that names the file, and that what it accepts is whole: valid
// ids, a key each, a time zone, and the key never printed. The seed corpus
// is in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	const path = "/etc/sendq/accounts.yaml"
	const key = "KEY-fuzz-0123"
	e := env{"A_KEY": key, "B_KEY": key, "HOOK": "HOOK-fuzz", "API": "API-fuzz", "EMPTY": ""}
	f.Fuzz(func(t *testing.T, data []byte) {
		files := disk{path: string(data), "/etc/sendq/keys/a": key + "\n"}
		set, err := accounts.Load(path, e.lookup, files.read)
		if err != nil {
			var ce *accounts.ConfigError
			require.True(t, errors.As(err, &ce), "%T: %v", err, err)
			require.Equal(t, path, ce.File)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, path+": "), msg)
			require.NotContains(t, msg, "\n")
			require.NotContains(t, msg, key)
			return
		}
		require.Positive(t, set.Len())
		for _, a := range set.All() {
			require.True(t, accounts.ValidID(a.ID), a.ID)
			require.Equal(t, key, a.APIKey)
			require.NotNil(t, a.Timezone)
			got, ok := set.Get(a.ID)
			require.True(t, ok)
			require.Equal(t, a.ID, got.ID)
			require.NotContains(t, fmt.Sprintf("%v %+v %#v %v", a, a, a, set), key)
		}
		require.NoError(t, set.RequireKeys())
	})
}
