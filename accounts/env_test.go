package accounts_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   env
		check func(t *testing.T, a accounts.Account)
	}{
		{"nothing set: the defaults", env{}, func(t *testing.T, a accounts.Account) {
			require.Equal(t, accounts.Account{
				ID: accounts.Default, BaseURL: "https://api.whautomate.com",
				Budget: ratelimit.Limit{Rate: 300, Per: time.Minute},
				Rates:  accounts.DefaultRates(), Paces: accounts.DefaultPaces(), Timezone: time.UTC,
			}, a)
		}},
		{"every variable", env{
			"WHAUTOMATE_API_KEY": "key-0123456789", "WHAUTOMATE_BASE_URL": "https://api.in.whautomate.com",
			"WHAUTOMATE_LOCATION_ID": "64ab0c", "WHAUTOMATE_RATE_LIMIT": "60/m",
			"SENDQ_RATE_WHATSAPP": "20/s", "SENDQ_RATE_MESSENGER": "0", "SENDQ_PACE_TELEGRAM": "2/s:2",
			"SENDQ_WEBHOOK_TOKEN": "hook", "SENDQ_QUIET_HOURS": "21:30-07:15", "SENDQ_TIMEZONE": "Europe/Berlin",
			"SENDQ_MESSAGING_LIMIT": "10000", "SENDQ_API_TOKEN": "not an account's",
		}, func(t *testing.T, a accounts.Account) {
			require.Equal(t, "Europe/Berlin", a.Timezone.String())
			a.Timezone = nil
			rates, paces := accounts.DefaultRates(), accounts.DefaultPaces()
			rates[tasks.WhatsApp] = ratelimit.Limit{Rate: 20, Per: time.Second}
			rates[tasks.Messenger] = ratelimit.Limit{}
			paces[tasks.Telegram] = ratelimit.Limit{Rate: 2, Per: time.Second, Burst: 2}
			require.Equal(t, accounts.Account{
				ID: "default", APIKey: "key-0123456789", BaseURL: "https://api.in.whautomate.com",
				LocationID: "64ab0c", Budget: ratelimit.Limit{Rate: 60, Per: time.Minute},
				Rates: rates, Paces: paces, WebhookToken: "hook",
				QuietHours:     accounts.QuietHours{Start: 21*time.Hour + 30*time.Minute, End: 7*time.Hour + 15*time.Minute},
				MessagingLimit: 10000,
			}, a)
		}},
		{"no budget", env{"WHAUTOMATE_RATE_LIMIT": "0"}, func(t *testing.T, a accounts.Account) {
			require.True(t, a.Budget.IsZero())
		}},
		{"empty optional variables", env{
			"WHAUTOMATE_BASE_URL": "", "SENDQ_QUIET_HOURS": "", "SENDQ_TIMEZONE": "", "SENDQ_MESSAGING_LIMIT": "",
		}, func(t *testing.T, a accounts.Account) {
			require.Equal(t, accounts.DefaultBaseURL, a.BaseURL)
			require.True(t, a.QuietHours.IsZero())
			require.Equal(t, time.UTC, a.Timezone)
			require.Equal(t, accounts.Unlimited, a.MessagingLimit)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			set, err := accounts.FromEnv(tt.env.lookup)
			require.NoError(t, err)
			a, ok := set.Only()
			require.True(t, ok)
			tt.check(t, a)
		})
	}
}

func TestFromEnvRefusesBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, variable, value, want string
	}{
		{"budget", "WHAUTOMATE_RATE_LIMIT", "fast", `want N/s, N/m or N/h, got "fast"`},
		{"budget per duration", "WHAUTOMATE_RATE_LIMIT", "1/6s", `want N/s, N/m or N/h, got "1/6s"`},
		{"empty budget", "WHAUTOMATE_RATE_LIMIT", "", `want N/s, N/m or N/h, got ""`},
		{"host", "WHAUTOMATE_BASE_URL", "api.whautomate.com",
			`want an http(s) URL such as https://api.whautomate.com, without user, query or fragment, got "api.whautomate.com"`},
		{"channel cap", "SENDQ_RATE_WHATSAPP", "80/x",
			`invalid limit "80/x": the period after / must be s, m, h or a positive duration such as 6s`},
		{"pace", "SENDQ_PACE_MESSENGER", "1/s:0", `invalid limit "1/s:0": the burst after : must be a whole number of at least 1`},
		{"quiet hours", "SENDQ_QUIET_HOURS", "21:00", `want HH:MM-HH:MM, got "21:00"`},
		{"time zone", "SENDQ_TIMEZONE", "Mars/Olympus_Mons", `want an IANA time zone such as Asia/Singapore, got "Mars/Olympus_Mons"`},
		{"messaging limit", "SENDQ_MESSAGING_LIMIT", "1000", `want 250, 2000, 10000, 100000 or unlimited, got "1000"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := accounts.FromEnv(env{tt.variable: tt.value}.lookup)
			require.EqualError(t, err, tt.variable+": "+tt.want)
			var ce *accounts.ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tt.variable, ce.Field)
			require.Empty(t, ce.File)
		})
	}
}

func TestRequireKeys(t *testing.T) {
	t.Parallel()
	set, err := accounts.FromEnv(env{}.lookup)
	require.NoError(t, err, "a missing key is no error at load")
	err = set.RequireKeys()
	require.ErrorIs(t, err, accounts.ErrNoKey)
	require.EqualError(t, err, "WHAUTOMATE_API_KEY: required")

	set, err = accounts.FromEnv(env{"WHAUTOMATE_API_KEY": "k"}.lookup)
	require.NoError(t, err)
	require.NoError(t, set.RequireKeys())

	set, err = accounts.NewSet(accounts.Account{ID: "a", APIKey: "k"}, accounts.Account{ID: "b"})
	require.NoError(t, err)
	require.EqualError(t, set.RequireKeys(), "account b: api_key: required")
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	const file = "accounts:\n  - id: a\n    api_key_env: A_KEY\n  - id: b\n    api_key_env: B_KEY\n"
	files := disk{"/etc/sendq/accounts.yaml": file}

	set, err := accounts.Configure(keys.with(env{
		"SENDQ_ACCOUNTS_FILE": "/etc/sendq/accounts.yaml", "WHAUTOMATE_RATE_LIMIT": "not read",
	}).lookup, files.read)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, set.IDs())

	for _, e := range []env{{}, {"SENDQ_ACCOUNTS_FILE": ""}} {
		set, err = accounts.Configure(e.with(env{"WHAUTOMATE_API_KEY": "k"}).lookup, files.read)
		require.NoError(t, err)
		a, ok := set.Only()
		require.True(t, ok)
		require.Equal(t, "default", a.ID)
		require.Equal(t, "k", a.APIKey)
	}

	_, err = accounts.Configure(env{"SENDQ_ACCOUNTS_FILE": "/etc/sendq/none.yaml"}.lookup, files.read)
	require.EqualError(t, err, "/etc/sendq/none.yaml: file does not exist")
}
