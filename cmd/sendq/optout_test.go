package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/redistest"
)

// TestOptoutCommand: add, check, remove by phone and by contact id, per
// channel, and the same with --json.
func TestOptoutCommand(t *testing.T) {
	redistest.Client(t, 2)
	env := map[string]string{"REDIS_URL": redistest.URL(t, 2)}
	check := func(args ...string) string {
		t.Helper()
		code, out, stderr := sendq(t, env, append([]string{"optout", "check"}, args...)...)
		require.Equal(t, 0, code, stderr)
		return strings.TrimSpace(out)
	}

	require.Equal(t, "not_opted_out", check("--channel", "whatsapp", "--phone", "+65 9123 4567"))
	code, out, stderr := sendq(t, env, "optout", "add", "--channel", "whatsapp", "--phone", "+65 9123 4567")
	require.Equal(t, 0, code, stderr)
	require.Empty(t, out)
	require.Equal(t, "opted_out", check("--channel", "WhatsApp", "--phone", "6591234567"), "the phone is stored as digits")
	require.Equal(t, "not_opted_out", check("--channel", "telegram", "--phone", "6591234567"), "per channel")
	require.Equal(t, `{"opted_out":true}`, check("--phone", "6591234567", "--json", "--channel", "whatsapp"))

	code, _, stderr = sendq(t, env, "optout", "add", "--channel", "instagram", "--contact-id", "c-1")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "opted_out", check("--channel", "instagram", "--contact-id", "c-1"))

	code, out, stderr = sendq(t, env, "optout", "list", "--json")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	var e map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &e))
	require.Equal(t, "whatsapp", e["channel"])
	require.Equal(t, "6591234567", e["phone"])
	require.Contains(t, lines[1], `"contact_id":"c-1"`)

	code, out, _ = sendq(t, env, "optout", "list", "--channel", "instagram")
	require.Equal(t, 0, code)
	require.Regexp(t, `^instagram +contact_id +c-1 +\d{4}-`, out)
	require.Equal(t, 1, strings.Count(out, "\n"))

	code, _, stderr = sendq(t, env, "optout", "remove", "--channel", "whatsapp", "--phone", "6591234567")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "not_opted_out", check("--channel", "whatsapp", "--phone", "6591234567"))
	require.Equal(t, `{"opted_out":false}`, check("--channel", "whatsapp", "--phone", "6591234567", "--json"))
}

// TestOptoutAccounts: --account picks the account's own list; with several
// accounts it is required, and an unknown one exits 2 naming it.
func TestOptoutAccounts(t *testing.T) {
	redistest.Client(t, 2)
	file := accountsFile(t, "accounts:\n  - id: clinic-sg\n    api_key_env: KA\n  - id: clinic-my\n    api_key_env: KA\n")
	env := map[string]string{"REDIS_URL": redistest.URL(t, 2), "SENDQ_ACCOUNTS_FILE": file, "KA": "k"}

	code, _, stderr := sendq(t, env, "optout", "add", "--account", "clinic-sg", "--channel", "whatsapp", "--contact-id", "c-1")
	require.Equal(t, 0, code, stderr)
	for account, want := range map[string]string{"clinic-sg": "opted_out", "clinic-my": "not_opted_out"} {
		code, out, stderr := sendq(t, env, "optout", "check", "--account", account, "--channel", "whatsapp", "--contact-id", "c-1")
		require.Equal(t, 0, code, stderr)
		require.Equal(t, want+"\n", out, account)
	}
	code, _, stderr = sendq(t, env, "optout", "check", "--channel", "whatsapp", "--contact-id", "c-1")
	require.Equal(t, 2, code)
	require.True(t, strings.HasPrefix(stderr, "sendq: --account"), stderr)
	code, _, stderr = sendq(t, env, "optout", "check", "--account", "nope", "--channel", "whatsapp", "--contact-id", "c-1")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `"nope"`)
}

// TestOptoutImport: a CSV of 1,000 rows is imported at once; a bad row
// imports nothing and names its line.
func TestOptoutImport(t *testing.T) {
	redistest.Client(t, 2)
	env := map[string]string{"REDIS_URL": redistest.URL(t, 2)}
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("channel,phone,contact_id\n")
	for i := range 1000 {
		if i%2 == 0 {
			fmt.Fprintf(&b, "whatsapp,+65 91%06d,\n", i)
		} else {
			fmt.Fprintf(&b, "messenger,,c-%d\n", i)
		}
	}
	good := filepath.Join(dir, "good.csv")
	require.NoError(t, os.WriteFile(good, []byte(b.String()), 0o600))

	code, out, stderr := sendq(t, env, "optout", "import", good)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "imported 1000 entries, 1000 new\n", out)
	code, out, _ = sendq(t, env, "optout", "check", "--channel", "whatsapp", "--phone", "6591000998")
	require.Equal(t, 0, code)
	require.Equal(t, "opted_out\n", out)
	code, out, _ = sendq(t, env, "optout", "check", "--channel", "messenger", "--contact-id", "c-999")
	require.Equal(t, 0, code)
	require.Equal(t, "opted_out\n", out)

	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("channel,phone\ntelegram,+6598765432\ntelegram,12ab\n"), 0o600))
	code, _, stderr = sendq(t, env, "optout", "import", bad)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "line 3: phone")
	code, out, _ = sendq(t, env, "optout", "check", "--channel", "telegram", "--phone", "6598765432")
	require.Equal(t, 0, code)
	require.Equal(t, "not_opted_out\n", out, "nothing of a bad file is imported")
}

// TestOptoutBadUsage: every bad input exits 2 with one line naming the
// flag or field, and writes nothing.
func TestOptoutBadUsage(t *testing.T) {
	rdb := redistest.Client(t, 2)
	env := map[string]string{"REDIS_URL": redistest.URL(t, 2)}
	dir := t.TempDir()
	noChannel := filepath.Join(dir, "nochannel.csv")
	require.NoError(t, os.WriteFile(noChannel, []byte("phone\n+6598765432\n"), 0o600))
	for _, tc := range []struct {
		name  string
		args  []string
		field string
	}{
		{"NoSubcommand", nil, "usage: sendq optout"},
		{"UnknownSubcommand", []string{"purge"}, "usage: sendq optout"},
		{"NoChannel", []string{"add", "--phone", "6598765432"}, "--channel (channel)"},
		{"BadChannel", []string{"add", "--channel", "sms", "--phone", "6598765432"}, "--channel (channel)"},
		{"NoRecipient", []string{"add", "--channel", "whatsapp"}, "--phone/--contact-id (to)"},
		{"TwoRecipients", []string{"check", "--channel", "whatsapp", "--phone", "6598765432", "--contact-id", "c"}, "--phone/--contact-id (to)"},
		{"BadPhone", []string{"remove", "--channel", "whatsapp", "--phone", "12ab"}, "--phone (phone)"},
		{"Positional", []string{"add", "x", "--channel", "whatsapp", "--phone", "6598765432"}, "optout add takes no arguments"},
		{"ImportNoFile", []string{"import"}, "usage: sendq optout import"},
		{"ImportMissingFile", []string{"import", filepath.Join(dir, "none.csv")}, filepath.Join(dir, "none.csv")},
		{"ImportNoChannelColumn", []string{"import", noChannel}, noChannel + ": line 1"},
		{"ListBadChannel", []string{"list", "--channel", "sms"}, "--channel (channel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := sendq(t, env, append([]string{"optout"}, tc.args...)...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, out)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			require.True(t, strings.HasPrefix(stderr, "sendq: "+tc.field), "names %s: %q", tc.field, stderr)
			require.Zero(t, rdb.DBSize(t.Context()).Val(), "nothing written")
		})
	}
}

// TestOptoutHelp: sendq optout --help lists the subcommands.
func TestOptoutHelp(t *testing.T) {
	code, out, _ := sendq(t, nil, "optout", "--help")
	require.Equal(t, 0, code)
	for _, sub := range []string{"add", "remove", "check", "list", "import"} {
		require.Contains(t, out, "\n  "+sub+" ")
	}
	_, out, _ = sendq(t, nil, "--help")
	require.Contains(t, out, "optout ...")
}
