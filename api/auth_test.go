package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
)

func TestTokensMatch(t *testing.T) {
	set, err := accounts.NewSet(accounts.Account{ID: "a", APIToken: "ta"}, accounts.Account{ID: "b", APIToken: "tb"}, accounts.Account{ID: "c"})
	require.NoError(t, err)
	tk := newTokens("all", set)
	for _, tc := range []struct {
		presented string
		ok        bool
		want      scope
	}{
		{"all", true, scope{all: true}},
		{"ta", true, scope{account: "a"}},
		{"tb", true, scope{account: "b"}},
		{"", false, scope{}},
		{"t", false, scope{}},
		{"ta ", false, scope{}},
		{"ALL", false, scope{}},
	} {
		got, ok := tk.match(tc.presented)
		require.Equal(t, tc.ok, ok, "%q", tc.presented)
		require.Equal(t, tc.want, got, "%q", tc.presented)
	}
	require.False(t, tk.none())
	require.True(t, newTokens("", mustSet(t, accounts.Account{ID: "x"})).none())
}

func mustSet(t *testing.T, a ...accounts.Account) *accounts.Set {
	s, err := accounts.NewSet(a...)
	require.NoError(t, err)
	return s
}

func TestAccountFor(t *testing.T) {
	s := &Server{accounts: mustSet(t, accounts.Account{ID: "a"}, accounts.Account{ID: "b"})}
	one := &Server{accounts: mustSet(t, accounts.Account{ID: "only"})}
	for _, tc := range []struct {
		name   string
		srv    *Server
		sc     scope
		named  string
		want   string
		status int
	}{
		{"every account names one", s, scope{all: true}, "b", "b", 0},
		{"every account, none named, several", s, scope{all: true}, "", "", 400},
		{"every account, none named, one", one, scope{all: true}, "", "only", 0},
		{"every account, unknown", s, scope{all: true}, "z", "", 400},
		{"an account's own", s, scope{account: "a"}, "", "a", 0},
		{"an account names itself", s, scope{account: "a"}, "a", "a", 0},
		{"an account names another", s, scope{account: "a"}, "b", "", 403},
		{"an account names an unknown one", s, scope{account: "a"}, "z", "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, p := tc.srv.accountFor(tc.sc, tc.named, "account")
			if tc.status != 0 {
				require.NotNil(t, p)
				require.Equal(t, tc.status, p.Status)
				require.Equal(t, "account", p.Errors[0].Field)
				return
			}
			require.Nil(t, p)
			require.Equal(t, tc.want, got)
		})
	}
}
