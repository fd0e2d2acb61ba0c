package accounts_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
)

// TestSecretsNeverPrint prints an account every way a program might, and
// finds neither its key nor its tokens.
func TestSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	const key, hook, token = "KEY-7f3a9c", "HOOK-51b2", "TOKEN-88d0"
	set, err := load("accounts:\n  - id: clinic-sg\n    api_key_env: K\n    webhook_token_env: H\n    api_token_env: T\n"+
		"    location_id: loc-1\n", env{"K": key, "H": hook, "T": token}, nil)
	require.NoError(t, err)
	acc, _ := set.Only()
	require.Equal(t, key, acc.APIKey, "the key is there to leak")

	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %+v %#v %s %q %x %X %d\n", acc, acc, acc, acc, acc, acc, acc, acc)
	fmt.Fprintf(&out, "%v %+v %#v %d\n", &acc, &acc, &acc, &acc)
	fmt.Fprintf(&out, "%v %+v %#v %d\n", []accounts.Account{acc}, map[string]accounts.Account{"a": acc},
		struct{ A accounts.Account }{acc}, []*accounts.Account{&acc})
	fmt.Fprintf(&out, "%v %+v %#v %d %v %+v %#v %d\n", set, set, set, set, *set, *set, *set, *set)
	fmt.Fprintln(&out, acc, set)
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		log := slog.New(h)
		log.Info("sending", "account", acc, "ptr", &acc, "set", set)
		log.Info("sending", slog.Any("account", acc), slog.Group("g", "a", acc))
	}
	js, err := json.Marshal(acc)
	require.NoError(t, err)
	out.Write(js)

	require.Contains(t, out.String(), "clinic-sg", "the account is printed")
	require.Contains(t, out.String(), "account.id=clinic-sg", "slog logs the account's group")
	require.Contains(t, out.String(), `"location_id":"loc-1"`)
	require.Contains(t, out.String(), "APIKey:set")
	require.Contains(t, out.String(), `"set":"clinic-sg"`)
	for _, secret := range []string{key, hook, token} {
		require.NotContains(t, out.String(), secret)
	}
}

func TestAccountString(t *testing.T) {
	t.Parallel()
	set, err := accounts.FromEnv(env{"WHAUTOMATE_API_KEY": "k", "SENDQ_QUIET_HOURS": "21:00-08:00"}.lookup)
	require.NoError(t, err)
	a, _ := set.Only()
	require.Equal(t, "default (https://api.whautomate.com, budget 300/m)", fmt.Sprint(a))
	require.Equal(t, "{ID:default BaseURL:https://api.whautomate.com LocationID: Budget:300/m "+
		"Rates:[whatsapp=80/s telegram=30/s instagram=300/s messenger=300/s] "+
		"Paces:[whatsapp=1/6s:3 telegram=1/s instagram=0 messenger=0] "+
		"QuietHours:21:00-08:00 Timezone:UTC MessagingLimit:unlimited APIKey:set WebhookToken:unset APIToken:unset}",
		fmt.Sprintf("%+v", a))
}
