package accounts_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// keys is an environment in which the accounts' key variables are set.
var keys = env{"A_KEY": "key-a-0123456789", "B_KEY": "key-b-0123456789"}

// yamlPath is where the tests' accounts file stands; entryA is a file of one
// good entry, for cases to add to.
const (
	yamlPath = "/etc/sendq/accounts.yaml"
	entryA   = "accounts:\n  - id: a\n    api_key_env: A_KEY\n"
)

// badFiles are accounts files that Load refuses, each with the one line it
// says and the account, field and line that line names.
var badFiles = []struct {
	name    string
	file    string
	env     env  // added to keys
	disk    disk // beside the file
	want    string
	account string
	field   string
	line    int
}{
	{name: "unreadable", want: "/etc/sendq/other.yaml: file does not exist"},
	{name: "not YAML", file: entryA + "    rate_limit 1/s\n    base_url: https://api.whautomate.com\n",
		want: yamlPath + ": line 4: could not find expected ':'", line: 4},
	{name: "tab indentation", file: "accounts:\n\t- id: a\n",
		want: yamlPath + ": line 2: found character that cannot start any token", line: 2},
	{name: "a second document", file: entryA + "---\naccounts: []\n",
		want: yamlPath + ": line 4: a second YAML document; want one", line: 4},
	{name: "a list at the top", file: "- id: a\n",
		want: yamlPath + ": line 1: want a mapping that holds accounts:, got a list", line: 1},
	{name: "unknown top-level key", file: entryA + "defaults: {}\n",
		want: yamlPath + ": line 4: defaults: unknown key; the file holds accounts: alone", field: "defaults", line: 4},
	{name: "accounts twice", file: entryA + "accounts: []\n",
		want: yamlPath + ": line 4: accounts: given twice", field: "accounts", line: 4},
	{name: "empty file", file: "",
		want: yamlPath + ": accounts: missing: want a list of accounts", field: "accounts"},
	{name: "accounts null", file: "accounts:\n",
		want: yamlPath + ": accounts: missing: want a list of accounts", field: "accounts"},
	{name: "empty list", file: "accounts: []\n",
		want: yamlPath + ": line 1: accounts: empty: want at least one account", field: "accounts", line: 1},
	{name: "accounts a mapping", file: "accounts: {id: a}\n",
		want: yamlPath + ": line 1: accounts: want a list of accounts, got a mapping", field: "accounts", line: 1},
	{name: "entry not a mapping", file: entryA + "  - b\n",
		want: yamlPath + ": accounts[1]: want a mapping of fields, got a single value", account: "accounts[1]"},
	{name: "unknown account key", file: entryA + "    rate: 300/m\n",
		want: yamlPath + ": account a: rate: unknown key", account: "a", field: "rate"},
	{name: "odd account key", file: entryA + "    \"rate limit\": 300/m\n",
		want: yamlPath + `: account a: "rate limit": unknown key`, account: "a", field: `"rate limit"`},
	{name: "api_key in the file", file: entryA + "    api_key: sk-secret-0123\n",
		want: yamlPath + ": account a: api_key: keys never stand in the file: " +
			"name the variable that holds it with api_key_env, or its file with api_key_file",
		account: "a", field: "api_key"},
	{name: "merge key", file: entryA + "    <<: {rate_limit: 60/m}\n",
		want: yamlPath + ": account a: <<: merge keys are not read: write the fields, " +
			"or set what every account shares with its SENDQ_ variable", account: "a", field: "<<"},
	{name: "key given twice", file: entryA + "    rate_limit: 60/m\n    rate_limit: 300/m\n",
		want: yamlPath + ": account a: rate_limit: given twice", account: "a", field: "rate_limit"},
	{name: "missing key variable", file: "accounts:\n  - id: a\n    api_key_env: C_KEY\n",
		want: yamlPath + ": account a: api_key_env: C_KEY is not set", account: "a", field: "api_key_env"},
	{name: "empty key variable", file: entryA, env: env{"A_KEY": ""},
		want: yamlPath + ": account a: api_key_env: A_KEY is empty", account: "a", field: "api_key_env"},
	{name: "blank key variable", file: entryA, env: env{"A_KEY": " \n"},
		want: yamlPath + ": account a: api_key_env: A_KEY is empty", account: "a", field: "api_key_env"},
	{name: "key with a space", file: entryA, env: env{"A_KEY": "key a"},
		want:    yamlPath + ": account a: api_key_env: the key in A_KEY holds spaces, control or non-ASCII characters",
		account: "a", field: "api_key_env"},
	{name: "a key where its variable's name goes", file: "accounts:\n  - id: a\n    api_key_env: sk-secret-0123\n",
		want:    yamlPath + ": account a: api_key_env: want the name of an environment variable (letters, digits and _)",
		account: "a", field: "api_key_env"},
	{name: "both key sources", file: entryA + "    api_key_file: entryA.key\n",
		want:    yamlPath + ": account a: api_key_file: give api_key_env or api_key_file, not both",
		account: "a", field: "api_key_file"},
	{name: "no key source", file: "accounts:\n  - id: a\n",
		want: yamlPath + ": account a: api_key_env: required: name the variable that holds the key " +
			"(or api_key_file, its file); keys never stand in the file",
		account: "a", field: "api_key_env"},
	{name: "missing key file", file: "accounts:\n  - id: a\n    api_key_file: keys/a\n",
		want:    yamlPath + ": account a: api_key_file: /etc/sendq/keys/a: file does not exist",
		account: "a", field: "api_key_file"},
	{name: "empty key file", file: "accounts:\n  - id: a\n    api_key_file: /run/a\n", disk: disk{"/run/a": "\n"},
		want: yamlPath + ": account a: api_key_file: /run/a is empty", account: "a", field: "api_key_file"},
	{name: "duplicate id", file: entryA + "  - id: a\n    api_key_env: B_KEY\n",
		want: yamlPath + `: accounts[1]: id: "a" repeats the id of accounts[0]`, account: "accounts[1]", field: "id"},
	{name: "bad id", file: entryA + "  - id: Clinic SG\n    api_key_env: B_KEY\n",
		want: yamlPath + `: accounts[1]: id: want 1-64 of a-z 0-9 _ -, got "Clinic SG"`, account: "accounts[1]", field: "id"},
	{name: "id too long", file: "accounts:\n  - id: " + strings.Repeat("a", 65) + "\n",
		want:    yamlPath + `: accounts[0]: id: want 1-64 of a-z 0-9 _ -, got "` + strings.Repeat("a", 65) + `"`,
		account: "accounts[0]", field: "id"},
	{name: "no id", file: entryA + "  - api_key_env: B_KEY\n",
		want: yamlPath + ": accounts[1]: id: required", account: "accounts[1]", field: "id"},
	{name: "unknown key before the id", file: "accounts:\n  - rate: 1/s\n    id: b\n",
		want: yamlPath + ": account b: rate: unknown key", account: "b", field: "rate"},
	{name: "bad rate_limit", file: entryA + "    rate_limit: fast\n",
		want: yamlPath + `: account a: rate_limit: want N/s, N/m or N/h, got "fast"`, account: "a", field: "rate_limit"},
	{name: "rate_limit with a burst", file: entryA + "    rate_limit: 300/m:10\n",
		want: yamlPath + `: account a: rate_limit: want N/s, N/m or N/h, got "300/m:10"`, account: "a", field: "rate_limit"},
	{name: "rate_limit a list", file: entryA + "    rate_limit: [300/m]\n",
		want: yamlPath + ": account a: rate_limit: want a single value, got a list", account: "a", field: "rate_limit"},
	{name: "unknown channel in rates", file: entryA + "    rates: {whatsapp: 80/s, sms: 10/s}\n",
		want:    yamlPath + ": account a: rates.sms: unknown channel; want whatsapp, telegram, instagram or messenger",
		account: "a", field: "rates.sms"},
	{name: "bad rate", file: entryA + "    rates: {telegram: lots}\n",
		want:    yamlPath + `: account a: rates.telegram: invalid limit "lots": want N/s, N/m, N/h, N/<duration>, optionally :burst, or 0 for none`,
		account: "a", field: "rates.telegram"},
	{name: "rates a list", file: entryA + "    rates: [80/s]\n",
		want:    yamlPath + ": account a: rates: want a mapping of channels to limits, such as {whatsapp: 80/s}, got a list",
		account: "a", field: "rates"},
	{name: "bad pace", file: entryA + "    paces: {whatsapp: 1/0s}\n",
		want:    yamlPath + `: account a: paces.whatsapp: invalid limit "1/0s": the period after / must be s, m, h or a positive duration such as 6s`,
		account: "a", field: "paces.whatsapp"},
	{name: "bad quiet_hours", file: entryA + "    quiet_hours: 9pm-8am\n",
		want: yamlPath + `: account a: quiet_hours: want HH:MM-HH:MM, got "9pm-8am"`, account: "a", field: "quiet_hours"},
	{name: "quiet_hours of no length", file: entryA + "    quiet_hours: 08:00-08:00\n",
		want:    yamlPath + `: account a: quiet_hours: want a start and an end that differ, got "08:00-08:00"`,
		account: "a", field: "quiet_hours"},
	{name: "bad timezone", file: entryA + "    timezone: Mars/Olympus_Mons\n",
		want:    yamlPath + `: account a: timezone: want an IANA time zone such as Asia/Singapore, got "Mars/Olympus_Mons"`,
		account: "a", field: "timezone"},
	{name: "bad messaging_limit", file: entryA + "    messaging_limit: 5000\n",
		want:    yamlPath + `: account a: messaging_limit: want 250, 2000, 10000, 100000 or unlimited, got "5000"`,
		account: "a", field: "messaging_limit"},
	{name: "bad base_url", file: entryA + "    base_url: ftp://api.whautomate.com\n",
		want:    yamlPath + `: account a: base_url: want an http(s) URL such as https://api.whautomate.com, without user, query or fragment, got "ftp://api.whautomate.com"`,
		account: "a", field: "base_url"},
	{name: "base_url with a password", file: entryA + "    base_url: https://u:hunter2@api.whautomate.com\n",
		want:    yamlPath + `: account a: base_url: want an http(s) URL such as https://api.whautomate.com, without user, query or fragment, got "https://u:xxxxx@api.whautomate.com"`,
		account: "a", field: "base_url"},
	{name: "webhook token variable not set", file: entryA + "    webhook_token_env: A_HOOK\n",
		want: yamlPath + ": account a: webhook_token_env: A_HOOK is not set", account: "a", field: "webhook_token_env"},
	{name: "API token variable empty", file: entryA + "    api_token_env: A_API\n", env: env{"A_API": ""},
		want: yamlPath + ": account a: api_token_env: A_API is empty", account: "a", field: "api_token_env"},
	{name: "bad SENDQ_TIMEZONE", file: entryA, env: env{"SENDQ_TIMEZONE": "Nowhere"},
		want: `SENDQ_TIMEZONE: want an IANA time zone such as Asia/Singapore, got "Nowhere"`, field: "SENDQ_TIMEZONE"},
}

func TestLoadRefusesBadFiles(t *testing.T) {
	t.Parallel()
	for _, tt := range badFiles {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, files := yamlPath, disk{yamlPath: tt.file}
			if tt.name == "unreadable" {
				path = "/etc/sendq/other.yaml"
			}
			for k, v := range tt.disk {
				files[k] = v
			}
			_, err := accounts.Load(path, keys.with(tt.env).lookup, files.read)
			require.Error(t, err)
			require.Equal(t, tt.want, err.Error())
			var ce *accounts.ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tt.account, ce.Account, "account")
			require.Equal(t, tt.field, ce.Field, "field")
			require.Equal(t, tt.line, ce.Line, "line")
			require.NotContains(t, err.Error(), "sk-secret")
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestLoadWrapsCauses(t *testing.T) {
	t.Parallel()
	_, err := accounts.Load("missing.yaml", env{}.lookup, disk{}.read)
	require.ErrorIs(t, err, fs.ErrNotExist)

	_, err = load("accounts:\n  - id: a\n    api_key_env: A_KEY\n    paces: {whatsapp: 1/0s}\n", keys, nil)
	require.ErrorIs(t, err, ratelimit.ErrInvalidLimit)
}

func TestLoadReadsAFile(t *testing.T) {
	t.Parallel()
	const file = `# The accounts of an agency.
accounts:
  - id: clinic-sg
    api_key_env: CLINIC_SG_KEY
    base_url: https://api.whautomate.com
    location_id: "64ab0c"
    rate_limit: 300/m
    rates: {whatsapp: 40/s}
    paces: {whatsapp: "1/6s:3", telegram: 0}
    webhook_token_env: CLINIC_SG_WEBHOOK
    api_token_env: CLINIC_SG_API
    quiet_hours: "21:00-08:00"
    timezone: Asia/Singapore
    messaging_limit: 2000
  - id: clinic-in
    api_key_file: keys/clinic-in   # beside the file
    base_url: https://api.in.whautomate.com
    rate_limit: 60/m
`
	e := env{
		"CLINIC_SG_KEY": "key-sg-0123456789", "CLINIC_SG_WEBHOOK": "hook-sg", "CLINIC_SG_API": "api-sg",
		"SENDQ_RATE_TELEGRAM": "20/s", "SENDQ_PACE_INSTAGRAM": "1/s", "SENDQ_WEBHOOK_TOKEN": "hook-all",
		"SENDQ_QUIET_HOURS": "22:00-07:00", "SENDQ_TIMEZONE": "Asia/Kolkata", "SENDQ_MESSAGING_LIMIT": "250",
		// The WHAUTOMATE_* variables are not read with a file, not even a bad one.
		"WHAUTOMATE_API_KEY": "key-env", "WHAUTOMATE_RATE_LIMIT": "fast", "WHAUTOMATE_BASE_URL": "ftp://x",
	}
	set, err := load(file, e, disk{"/etc/sendq/keys/clinic-in": "key-in-0123456789\n"})
	require.NoError(t, err)
	require.Equal(t, []string{"clinic-sg", "clinic-in"}, set.IDs())

	sg, ok := set.Get("clinic-sg")
	require.True(t, ok)
	require.Equal(t, "Asia/Singapore", sg.Timezone.String())
	sg.Timezone = nil
	require.Equal(t, accounts.Account{
		ID: "clinic-sg", APIKey: "key-sg-0123456789", BaseURL: "https://api.whautomate.com", LocationID: "64ab0c",
		Budget: ratelimit.Limit{Rate: 300, Per: time.Minute},
		Rates: map[tasks.Channel]ratelimit.Limit{
			tasks.WhatsApp: {Rate: 40, Per: time.Second}, tasks.Telegram: {Rate: 20, Per: time.Second},
			tasks.Instagram: {Rate: 300, Per: time.Second}, tasks.Messenger: {Rate: 300, Per: time.Second},
		},
		Paces: map[tasks.Channel]ratelimit.Limit{
			tasks.WhatsApp: {Rate: 1, Per: 6 * time.Second, Burst: 3}, tasks.Telegram: {},
			tasks.Instagram: {Rate: 1, Per: time.Second}, tasks.Messenger: {},
		},
		WebhookToken: "hook-sg", APIToken: "api-sg",
		QuietHours:     accounts.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour},
		MessagingLimit: 2000,
	}, sg)

	in, ok := set.Get("clinic-in")
	require.True(t, ok)
	require.Equal(t, "Asia/Kolkata", in.Timezone.String(), "SENDQ_TIMEZONE")
	in.Timezone = nil
	require.Equal(t, accounts.Account{
		ID: "clinic-in", APIKey: "key-in-0123456789", BaseURL: "https://api.in.whautomate.com",
		Budget: ratelimit.Limit{Rate: 60, Per: time.Minute},
		Rates: map[tasks.Channel]ratelimit.Limit{
			tasks.WhatsApp: {Rate: 80, Per: time.Second}, tasks.Telegram: {Rate: 20, Per: time.Second},
			tasks.Instagram: {Rate: 300, Per: time.Second}, tasks.Messenger: {Rate: 300, Per: time.Second},
		},
		Paces: map[tasks.Channel]ratelimit.Limit{
			tasks.WhatsApp: {Rate: 1, Per: 6 * time.Second, Burst: 3}, tasks.Telegram: {Rate: 1, Per: time.Second},
			tasks.Instagram: {Rate: 1, Per: time.Second}, tasks.Messenger: {},
		},
		WebhookToken:   "hook-all",
		QuietHours:     accounts.QuietHours{Start: 22 * time.Hour, End: 7 * time.Hour},
		MessagingLimit: 250,
	}, in)
	require.NoError(t, set.RequireKeys())
}

func TestLoadReadsJSON(t *testing.T) {
	t.Parallel()
	const file = "{\n\t\"accounts\": [\n" +
		"\t\t{\"id\": \"a\", \"api_key_env\": \"A_KEY\", \"rate_limit\": \"0\", \"rates\": {\"whatsapp\": \"10/s\"},\n" +
		"\t\t \"messaging_limit\": \"unlimited\", \"location_id\": 42},\n" +
		"\t\t{\"id\": \"b\", \"api_key_env\": \"B_KEY\", \"messaging_limit\": 100000, \"quiet_hours\": \"\", \"timezone\": null}\n" +
		"\t]\n}\n"
	set, err := load(file, keys.with(env{"SENDQ_QUIET_HOURS": "21:00-08:00", "SENDQ_MESSAGING_LIMIT": "2000"}), nil)
	require.NoError(t, err)
	require.Equal(t, 2, set.Len())

	a, _ := set.Get("a")
	require.Equal(t, "key-a-0123456789", a.APIKey)
	require.True(t, a.Budget.IsZero(), "rate_limit 0 is no budget")
	require.Equal(t, ratelimit.Limit{Rate: 10, Per: time.Second}, a.Rates[tasks.WhatsApp])
	require.Equal(t, accounts.Unlimited, a.MessagingLimit)
	require.Equal(t, "42", a.LocationID)
	require.Equal(t, "21:00-08:00", a.QuietHours.String(), "SENDQ_QUIET_HOURS")

	b, _ := set.Get("b")
	require.Equal(t, accounts.MessagingLimit(100000), b.MessagingLimit)
	require.True(t, b.QuietHours.IsZero(), "an empty quiet_hours turns SENDQ_QUIET_HOURS off")
	require.Equal(t, time.UTC, b.Timezone, "null is left out")
	require.Equal(t, accounts.DefaultBudget, b.Budget)
	require.Equal(t, accounts.DefaultBaseURL, b.BaseURL)
	require.Equal(t, accounts.DefaultRates(), b.Rates)
	require.Equal(t, accounts.DefaultPaces(), b.Paces)
}

func TestLoadFollowsAliases(t *testing.T) {
	t.Parallel()
	const file = `accounts:
  - id: a
    api_key_env: A_KEY
    rates: &slow {whatsapp: 5/s, telegram: 5/s}
  - id: b
    api_key_env: B_KEY
    rates: *slow
`
	set, err := load(file, keys, nil)
	require.NoError(t, err)
	a, _ := set.Get("a")
	b, _ := set.Get("b")
	require.Equal(t, a.Rates, b.Rates)
	require.Equal(t, ratelimit.Limit{Rate: 5, Per: time.Second}, b.Rates[tasks.Telegram])

	b.Rates[tasks.WhatsApp] = ratelimit.Limit{}
	require.Equal(t, ratelimit.Limit{Rate: 5, Per: time.Second}, a.Rates[tasks.WhatsApp], "each account has its own maps")
}

func TestConfigErrorIsOneLine(t *testing.T) {
	t.Parallel()
	err := &accounts.ConfigError{File: "a.yaml", Account: "x", Field: "f", Msg: "first\n  second\r\n", Err: errors.New("cause")}
	require.Equal(t, "a.yaml: account x: f: first; second", err.Error())
	require.EqualError(t, errors.Unwrap(err), "cause")
}
