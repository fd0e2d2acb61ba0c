package accounts_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
)

func TestSet(t *testing.T) {
	t.Parallel()
	set, err := accounts.NewSet(accounts.Account{ID: "b"}, accounts.Account{ID: "a"})
	require.NoError(t, err)
	require.Equal(t, 2, set.Len())
	require.Equal(t, []string{"b", "a"}, set.IDs(), "in the order given")
	require.Equal(t, "b, a", set.String())

	a, ok := set.Get("a")
	require.True(t, ok)
	require.Equal(t, "a", a.ID)
	_, ok = set.Get("c")
	require.False(t, ok)

	_, ok = set.Only()
	require.False(t, ok, "two accounts")
	_, err = set.Pick("")
	require.ErrorIs(t, err, accounts.ErrAccountRequired)
	_, err = set.Pick("c")
	require.ErrorIs(t, err, accounts.ErrUnknownAccount)
	require.EqualError(t, err, `unknown account "c"`)
	a, err = set.Pick("a")
	require.NoError(t, err)
	require.Equal(t, "a", a.ID)

	all := set.All()
	all[0].ID = "changed"
	require.Equal(t, []string{"b", "a"}, set.IDs(), "All returns a copy")

	one, err := accounts.NewSet(accounts.Account{ID: "solo"})
	require.NoError(t, err)
	a, err = one.Pick("")
	require.NoError(t, err)
	require.Equal(t, "solo", a.ID)
}

func TestNewSetRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []accounts.Account
		want string
	}{
		{"none", nil, "accounts: empty: want at least one account"},
		{"bad id", []accounts.Account{{ID: "a"}, {ID: "B"}}, `accounts[1]: id: want 1-64 of a-z 0-9 _ -, got "B"`},
		{"repeated id", []accounts.Account{{ID: "a"}, {ID: "b"}, {ID: "a"}}, `accounts[2]: id: "a" repeats the id of accounts[0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := accounts.NewSet(tt.in...)
			require.EqualError(t, err, tt.want)
		})
	}
}

func ExampleSet_Pick() {
	set, err := accounts.NewSet(accounts.Account{ID: "clinic-sg"}, accounts.Account{ID: "clinic-in"})
	if err != nil {
		panic(err)
	}
	a, err := set.Pick("clinic-in")
	fmt.Println(a.ID, err)
	_, err = set.Pick("")
	fmt.Println(err)
	// Output:
	// clinic-in <nil>
	// required: several accounts are configured (2 are)
}
