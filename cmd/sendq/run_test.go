package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// sendq runs the command as main does, with env as the whole environment,
// and returns the exit code, stdout and stderr.
func sendq(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	err := run(context.Background(), args, lookup, strings.NewReader(""), &out, &errb)
	code := exitCode(err, &errb)
	return code, out.String(), errb.String()
}

func TestSendRejectsBadInputBeforeEnqueuing(t *testing.T) {
	rdb := redistest.Client(t, 2)
	env := map[string]string{"REDIS_URL": redistest.URL(t, 2)}
	long := strings.Repeat("x", 4097)
	for _, tc := range []struct {
		name  string
		args  []string
		field string
	}{
		{"MissingChannel", []string{"--contact-id", "c1", "--text", "hi"}, "--channel"},
		{"UnknownChannel", []string{"--channel", "sms", "--contact-id", "c1", "--text", "hi"}, "--channel"},
		{"TwoRecipientForms", []string{"--channel", "whatsapp", "--contact-id", "c1", "--phone", "+6598765432", "--text", "hi"}, "--contact-id/--client-id/--phone"},
		{"NoRecipient", []string{"--channel", "whatsapp", "--text", "hi"}, "--contact-id/--client-id/--phone"},
		{"BadPhone", []string{"--channel", "whatsapp", "--phone", "12ab", "--text", "hi"}, "--phone"},
		{"TextOverTheLimit", []string{"--channel", "whatsapp", "--contact-id", "c1", "--text", long}, "--text"},
		{"HTTPMediaURL", []string{"--channel", "whatsapp", "--contact-id", "c1", "--media-url", "http://example.com/a.jpg", "--mime-type", "image/jpeg"}, "--media-url"},
		{"TwoKindsAtOnce", []string{"--channel", "whatsapp", "--contact-id", "c1", "--text", "hi", "--template", "t", "--language", "en"}, "--text/--media-url/--template"},
		{"NoContent", []string{"--channel", "whatsapp", "--contact-id", "c1"}, "--text/--media-url/--template"},
		{"TelegramCaptionTooLong", []string{"--channel", "telegram", "--contact-id", "c1", "--media-url", "https://e.com/a.jpg", "--mime-type", "image/jpeg", "--caption", strings.Repeat("c", 1025)}, "--caption"},
		{"TemplateWithoutLanguage", []string{"--channel", "whatsapp", "--contact-id", "c1", "--template", "t"}, "--language"},
		{"BadAt", []string{"--channel", "whatsapp", "--contact-id", "c1", "--text", "hi", "--at", "tomorrow"}, "--at"},
		{"BadExpiresIn", []string{"--channel", "whatsapp", "--contact-id", "c1", "--text", "hi", "--expires-in", "soon"}, "--expires-in"},
		{"UnknownFlag", []string{"--channel", "whatsapp", "--colour", "red"}, "--colour"},
		{"UnknownCategory", []string{"--channel", "whatsapp", "--contact-id", "c1", "--template", "t", "--language", "en", "--category", "promo"}, "--category (template.category)"},
		{"CategoryOnText", []string{"--channel", "whatsapp", "--contact-id", "c1", "--text", "hi", "--category", "marketing"}, "--category (template.category)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := sendq(t, env, append([]string{"send"}, tc.args...)...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, out)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			require.True(t, strings.HasPrefix(stderr, "sendq: "+tc.field), "names %s: %q", tc.field, stderr)
			require.Zero(t, rdb.DBSize(context.Background()).Val(), "nothing enqueued")
		})
	}
}

func TestSendAndStatus(t *testing.T) {
	redistest.Client(t, 2)
	env := map[string]string{"REDIS_URL": redistest.URL(t, 2)}

	code, out, stderr := sendq(t, env, "send", "--channel", "WhatsApp", "--phone", "+65 9876 5432", "--text", "hi", "--id", "order-1", "--json")
	require.Equal(t, 0, code, stderr)
	var r struct{ ID, State string }
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, "order-1", r.ID)
	require.Equal(t, "queued", r.State)

	code, out, _ = sendq(t, env, "send", "--channel", "whatsapp", "--phone", "+6598765432", "--text", "hi again", "--id", "order-1")
	require.Equal(t, 0, code)
	require.Equal(t, "order-1\n", out, "the same id prints the first one's id")

	// Flags may stand after the positional argument.
	code, out, stderr = sendq(t, env, "status", "order-1", "--json")
	require.Equal(t, 0, code, stderr)
	var o map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	require.Equal(t, "order-1", o["id"])
	require.Equal(t, "whatsapp", o["channel"])
	require.Equal(t, "text", o["kind"])
	require.Equal(t, "queued", o["state"])
	require.NotContains(t, o, "sent_at", "fields without a value are omitted")

	code, _, stderr = sendq(t, env, "status", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "not found")

	code, _, stderr = sendq(t, map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}, "status", "x")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "redis unreachable")
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"NoCommand", nil, nil, "no command"},
		{"UnknownCommand", nil, []string{"fly"}, `unknown command "fly"`},
		{"WorkerNeedsKey", nil, []string{"worker"}, "WHAUTOMATE_API_KEY"},
		{"BadRate", map[string]string{"SENDQ_RATE_WHATSAPP": "fast"}, []string{"status", "x"}, "SENDQ_RATE_WHATSAPP"},
		{"BadPollInterval", map[string]string{"SENDQ_POLL_INTERVAL": "0s"}, []string{"status", "x"}, "SENDQ_POLL_INTERVAL"},
		{"BadRedisScheme", map[string]string{"REDIS_URL": "mysql://x"}, []string{"status", "x"}, "REDIS_URL"},
		{"SentinelWithoutMaster", map[string]string{"REDIS_URL": "redis-sentinel://h:26379/0"}, []string{"status", "x"}, "master"},
		{"BadBudget", map[string]string{"WHAUTOMATE_RATE_LIMIT": "lots"}, []string{"accounts"}, "WHAUTOMATE_RATE_LIMIT"},
		{"AccountsFileMissing", map[string]string{"SENDQ_ACCOUNTS_FILE": "/nonexistent/accounts.yaml"}, []string{"accounts"},
			"/nonexistent/accounts.yaml"},
		{"AccountsFileBadField", map[string]string{"SENDQ_ACCOUNTS_FILE": accountsFile(t, "accounts:\n  - id: a\n    api_key_env: KA\n    rate_limit: fast\n"), "KA": "k"},
			[]string{"worker"}, "account a: rate_limit"},
		{"SeveralAccounts", map[string]string{"SENDQ_ACCOUNTS_FILE": accountsFile(t, "accounts:\n  - id: a\n    api_key_env: KA\n  - id: b\n    api_key_env: KA\n"), "KA": "k"},
			[]string{"send", "--channel", "whatsapp", "--contact-id", "c1", "--text", "hi"}, "--account (account): required: several accounts are configured (2 are)"},
		{"UnknownAccount", map[string]string{"SENDQ_ACCOUNTS_FILE": accountsFile(t, "accounts:\n  - id: a\n    api_key_env: KA\n"), "KA": "k"},
			[]string{"send", "--account", "z", "--channel", "whatsapp", "--contact-id", "c1", "--text", "hi"}, "--account (account): unknown account \"z\""},
		{"BadQuietHours", map[string]string{"WHAUTOMATE_API_KEY": "k", "SENDQ_QUIET_HOURS": "25:00-08:00"}, []string{"worker"}, "SENDQ_QUIET_HOURS"},
		{"BadMessagingLimit", map[string]string{"WHAUTOMATE_API_KEY": "k", "SENDQ_MESSAGING_LIMIT": "300"}, []string{"worker"}, "SENDQ_MESSAGING_LIMIT"},
		{"BadOptOutKeywords", map[string]string{"WHAUTOMATE_API_KEY": "k", "SENDQ_OPTOUT_KEYWORDS": "STOP,,QUIT"}, []string{"worker"}, "SENDQ_OPTOUT_KEYWORDS"},
		{"KeywordBothWays", map[string]string{"WHAUTOMATE_API_KEY": "k", "SENDQ_OPTIN_KEYWORDS": "START,stop"}, []string{"worker"}, "SENDQ_OPTIN_KEYWORDS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := sendq(t, tc.env, tc.args...)
			require.Equal(t, 2, code)
			require.Contains(t, stderr, tc.want)
		})
	}
}

// accountsFile writes an accounts file and returns its path.
func accountsFile(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "accounts.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

// TestAccountsCommand: sendq accounts lists every account without its key,
// and --check tells a key the sandbox takes from one it refuses.
func TestAccountsCommand(t *testing.T) {
	sb := whautomatetest.NewServer(whautomatetest.Options{APIKey: "right-key"})
	t.Cleanup(sb.Close)
	file := accountsFile(t, "accounts:\n  - id: good\n    api_key_env: KG\n    base_url: "+sb.URL()+
		"\n  - id: bad\n    api_key_env: KB\n    base_url: "+sb.URL()+"\n    rate_limit: 60/m\n")
	env := map[string]string{"SENDQ_ACCOUNTS_FILE": file, "KG": "right-key", "KB": "wrong-key"}

	code, stdout, _ := sendq(t, env, "accounts")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "good")
	require.Contains(t, stdout, "60/m")
	require.NotContains(t, stdout, "right-key")

	code, stdout, stderr := sendq(t, env, "accounts", "--check", "--json")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "1 of 2 accounts failed")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 2)
	require.Contains(t, lines[0], `"check":"ok"`)
	require.Contains(t, lines[1], `"check":"refused:`)
	require.NotContains(t, stdout, "wrong-key")
}

func TestVersionLess(t *testing.T) {
	for _, tc := range []struct {
		v, than string
		less    bool
	}{{"6.0.16", "6.2", true}, {"6.2.0", "6.2", false}, {"7.0.15", "6.2", false}, {"5", "6.2", true}, {"10.0", "6.2", false}} {
		require.Equal(t, tc.less, versionLess(tc.v, tc.than), "%s < %s", tc.v, tc.than)
	}
}

func TestMessagesCommand(t *testing.T) {
	sb := whautomatetest.NewServer(whautomatetest.Options{APIKey: "k"})
	defer sb.Close()
	sb.MarkInbound(tasks.WhatsApp, "c1", "", time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	env := map[string]string{"WHAUTOMATE_BASE_URL": sb.URL(), "WHAUTOMATE_API_KEY": "k"}
	code, out, stderr := sendq(t, env, "messages", "c1", "--json")
	require.Equal(t, 0, code, stderr)
	var msgs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &msgs))
	require.Len(t, msgs, 1)
	require.Equal(t, true, msgs[0]["isIncoming"])
	require.Equal(t, "c1", msgs[0]["contactId"])

	code, _, stderr = sendq(t, map[string]string{"WHAUTOMATE_BASE_URL": sb.URL(), "WHAUTOMATE_API_KEY": "wrong"}, "messages", "c1")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "403")
	require.NotContains(t, stderr, "wrong", "the key is never printed")
}

// TestDemo runs `sendq demo --once` as the README's first command does, on
// its embedded Redis: every message ends as planned, and the curl command
// it prints sends a message through the HTTP API.
func TestDemo(t *testing.T) {
	code, stdout, stderr := sendq(t, map[string]string{"SENDQ_HTTP_ADDR": "127.0.0.1:0"}, "demo", "--once")
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", stderr, stdout)
	require.Contains(t, stdout, "every message ended as planned")
	require.Contains(t, stdout, "the curl command above: accepted, and sent")
}
