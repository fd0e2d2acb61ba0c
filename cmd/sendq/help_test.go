package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelp: every command's --help and -h print its usage, what it does and
// every one of its flags to stdout, and exit 0, whatever the environment.
func TestHelp(t *testing.T) {
	message := []string{"--channel", "--contact-id", "--client-id", "--phone", "--name", "--text", "--media-url",
		"--mime-type", "--caption", "--template", "--language", "--param", "--button", "--element", "--category"}
	for _, tc := range []struct {
		command []string
		flags   []string
		env     []string // variables the help names
	}{
		{[]string{"worker"}, nil, envNames()},
		{[]string{"send"}, append([]string{"--id", "--at", "--expires-in", "--campaign", "--json"}, message...), []string{"REDIS_URL"}},
		{[]string{"status"}, []string{"--json"}, []string{"REDIS_URL"}},
		{[]string{"messages"}, []string{"--page", "--limit", "--json"}, []string{"WHAUTOMATE_API_KEY"}},
		{[]string{"campaign", "start"}, append([]string{"--id", "--file", "--json"}, message...), []string{"REDIS_URL"}},
		{[]string{"campaign", "status"}, []string{"--json"}, []string{"REDIS_URL"}},
		{[]string{"campaign", "pause"}, nil, []string{"REDIS_URL"}},
		{[]string{"campaign", "resume"}, nil, []string{"REDIS_URL"}},
		{[]string{"campaign", "cancel"}, nil, []string{"REDIS_URL"}},
		{[]string{"optout", "add"}, []string{"--account", "--channel", "--phone", "--contact-id"}, []string{"REDIS_URL"}},
		{[]string{"optout", "remove"}, []string{"--account", "--channel", "--phone", "--contact-id"}, []string{"REDIS_URL"}},
		{[]string{"optout", "check"}, []string{"--account", "--channel", "--phone", "--contact-id", "--json"}, []string{"REDIS_URL"}},
		{[]string{"optout", "list"}, []string{"--account", "--channel", "--json"}, []string{"REDIS_URL"}},
		{[]string{"optout", "import"}, []string{"--account"}, []string{"REDIS_URL"}},
		{[]string{"dashboard"}, nil, []string{"REDIS_URL", "SENDQ_HTTP_ADDR", "SENDQ_ADMIN_TOKEN"}},
		{[]string{"demo"}, []string{"--once"}, []string{"REDIS_URL", "SENDQ_DEMO_LOG"}},
		{[]string{"bench"}, []string{"--n", "--latency", "--concurrency", "--limit", "--idle", "--mode", "--rounds",
			"--flush", "--cpuprofile"}, []string{"REDIS_URL"}},
	} {
		name := strings.Join(tc.command, " ")
		for _, ask := range [][]string{
			append(tc.command, "--help"),
			append(tc.command, "-h"),
			append([]string{"help"}, tc.command...),
			append(append([]string{}, tc.command...), "x", "--help"), // after a positional
		} {
			t.Run(strings.Join(ask, "_"), func(t *testing.T) {
				// A broken environment does not keep help from answering.
				code, out, stderr := sendq(t, map[string]string{"SENDQ_RATE_WHATSAPP": "fast"}, ask...)
				require.Equal(t, 0, code, stderr)
				require.Empty(t, stderr)
				require.True(t, strings.HasPrefix(out, "usage: sendq "+name), "synopsis first: %q", out)
				about := strings.SplitN(out, "\n\n", 3)
				require.Len(t, about, 3, "usage, what it does, the rest: %q", out)
				require.NotEmpty(t, strings.TrimSpace(about[1]), "says what it does")
				for _, f := range tc.flags {
					require.Regexp(t, `(?m)^  `+f+`( [A-Z]+)?  +\S`, out, "names %s with its meaning", f)
				}
				if len(tc.flags) == 0 {
					require.NotContains(t, out, "flags:")
				}
				for _, v := range tc.env {
					require.Contains(t, out, v)
				}
			})
		}
	}
}

// TestHelpShowsDefaults: a flag's default and a variable's default are in
// the help, as the command uses them.
func TestHelpShowsDefaults(t *testing.T) {
	_, out, _ := sendq(t, nil, "bench", "--help")
	require.Regexp(t, `(?m)^  --n INT +messages per run \(default 20000\)$`, out)
	require.Regexp(t, `(?m)^  --mode STRING +sendq, bare or both \(default both\)$`, out)
	_, out, _ = sendq(t, nil, "worker", "--help")
	require.Contains(t, out, "  SENDQ_CONCURRENCY (default 50)\n")
	require.Contains(t, out, "  SENDQ_PACE_<CHANNEL> (default whatsapp 1/6s:3, telegram 1/s, instagram 0, messenger 0)\n")
	e, err := loadEnv(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	require.Equal(t, 50, e.Concurrency, "the default the help gives")
	require.Equal(t, "127.0.0.1:8080", e.HTTPAddr)
}

// TestRunHelp: sendq --help, -h and help list every command and variable on
// stdout and exit 0; sendq campaign --help lists its subcommands.
func TestRunHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		code, out, stderr := sendq(t, nil, arg)
		require.Equal(t, 0, code, stderr)
		require.Empty(t, stderr)
		for _, cmd := range []string{"worker", "send", "status", "messages", "campaign", "dashboard", "demo", "bench"} {
			require.Regexp(t, `(?m)^  `+cmd+`\b`, out)
		}
		for _, v := range envNames() {
			require.Contains(t, out, "  "+v)
		}
		require.Contains(t, out, "exit codes")

		code, out, stderr = sendq(t, nil, "campaign", arg)
		require.Equal(t, 0, code, stderr)
		for _, sub := range []string{"start", "status", "pause", "resume", "cancel"} {
			require.Regexp(t, `(?m)^  `+sub+`\b`, out)
		}
	}
}

// TestUsageErrorsStayOneLine: bad usage still exits 2 with one line on
// stderr and nothing on stdout, help flags or not.
func TestUsageErrorsStayOneLine(t *testing.T) {
	for _, args := range [][]string{
		{"send", "--colour", "red", "--help"},
		{"status"},
		{"status", "a", "b", "--json"},
		{"messages"},
		{"campaign", "status"},
		{"campaign", "pause", "--json"},
		{"campaign", "fly"},
		{"bench", "--n"},
		{"worker", "extra"},
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			code, out, stderr := sendq(t, nil, args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, out)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
}
