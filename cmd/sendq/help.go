package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

const usage = `usage: sendq <command> [flags]

commands:
  worker              run the send worker and its HTTP server
  send [flags]        validate and enqueue one message; prints its id
  status ID           print a message's recorded outcome
  messages CONTACT_ID list a contact's messages (GET /v1/messages/{contactId})
  accounts [--check]  list the configured accounts; check each key
  campaign ...        bulk runs: start, status, pause, resume, cancel
  optout ...          the opt-out list: add, remove, check, list, import
  dashboard           the web UI, metrics and HTTP API alone, against a Redis
  demo [--once]       the whole system on one machine, no set-up
  bench [flags]       measure sendq against a bare asynq handler (sandbox)
`

// printUsage is `sendq --help`: the commands, the exit codes and the
// environment.
func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	fmt.Fprint(w, `
sendq COMMAND --help (or sendq help COMMAND) prints a command's usage and flags.
Flags may stand before or after a command's arguments.

exit codes: 0 success; 1 runtime failure (Redis or the API unreachable, …);
2 bad usage or invalid input, with one line on stderr naming the flag or cause.
`)
	printEnv(w, envNames())
}

// help is what `sendq COMMAND --help` says besides the flags.
type help struct {
	synopsis string   // after "usage: "
	about    string   // what the command does
	env      []string // the variables it reads; nil: none
}

// helps are the commands' help, by the name of their flag set.
var helps = map[string]help{
	"worker": {"sendq worker", `Runs the send worker and its HTTP server on SENDQ_HTTP_ADDR (/healthz,
/metrics, the web UI at /monitoring/, POST /webhooks/whautomate, the HTTP
API at /api/v1/) until
SIGINT or SIGTERM, then drains: sends in flight get SENDQ_SHUTDOWN_TIMEOUT
to finish. Run as many workers as you like against one Redis: rate limits,
windows and campaign state hold for all of them together.`, envNames()},
	"send": {"sendq send --channel C RECIPIENT CONTENT [flags]", `Validates one message and enqueues it; prints its id (--json: an object
with id, state and duplicate). RECIPIENT is exactly one of --contact-id,
--client-id or --phone (+ --name); CONTENT exactly one of --text,
--media-url (+ --mime-type, --caption) or --template (+ --language and
--param on WhatsApp, --button on Telegram, --element on Instagram and
Messenger). A template's --category (marketing, utility or authentication;
default utility) decides whether opt-outs and quiet hours hold it: they hold
marketing templates only. --account names the account to send from
(required when several are configured). Bad input exits 2 naming the flag,
and enqueues nothing.`, []string{"REDIS_URL", "SENDQ_ACCOUNTS_FILE"}},
	"status": {"sendq status ID [--json]", `Prints one message's recorded outcome: id, state, channel/kind, attempts,
and the upstream id or the error when there is one; --json adds the
account, and for a scheduled message its reason and not_before. States:
queued, scheduled, waiting_session, retrying, sent, failed, expired,
cancelled, suppressed (README "Outcome states"). Message ids are an account's own: the
message is looked for in every configured account. An unknown id exits 1
with "not found".`, []string{"REDIS_URL", "SENDQ_ACCOUNTS_FILE"}},
	"messages": {"sendq messages CONTACT_ID [--account A] [--page N] [--limit N] [--json]", `Lists a contact's messages through Whautomate's GET /v1/messages/{contactId},
one a line: time, direction (in/out), channel, type, status, text, with the
key of --account (required when several are configured).`,
		[]string{"SENDQ_ACCOUNTS_FILE", "WHAUTOMATE_BASE_URL", "WHAUTOMATE_API_KEY", "WHAUTOMATE_LOCATION_ID"}},
	"accounts": {"sendq accounts [--check] [--json]", `Lists the configured accounts: id, API host, budget and whether a location
is set; never a key. With --check, makes one request per account to check
its key and location, and exits 1 if any fails (README "Accounts").`,
		[]string{"SENDQ_ACCOUNTS_FILE", "WHAUTOMATE_BASE_URL", "WHAUTOMATE_API_KEY", "WHAUTOMATE_LOCATION_ID", "WHAUTOMATE_RATE_LIMIT"}},
	"campaign start": {"sendq campaign start --id ID --file F [--channel C] [--template NAME --language L | --text T | --media-url U --mime-type M] [flags]",
		`Stores one message per row of F, for the workers to send at the
account's pace: CSV with a header row, or JSON Lines (.jsonl) with the same
keys: contact_id, client_id or phone (+ name), param1, param2, …, and
per-row overrides channel, template, language, text, media_url, mime_type,
caption, category; the flags give what a row does not say. Templates are
marketing unless --category or the row says else. --at starts the campaign
later. Starting the same campaign again sends no one twice. Invalid rows
are reported on stderr with their line and skipped. The campaign is one
account's: --account (required when several are configured); campaign ids
are unique across accounts. Prints how many rows were accepted, rejected
and skipped as duplicates (README "Campaigns").`, []string{"REDIS_URL", "SENDQ_ACCOUNTS_FILE"}},
	"campaign status": {"sendq campaign status ID [--json]", `Prints a campaign's state (running, paused, auto_paused, cancelled, done),
its messages counted by outcome state, its send rate and the time the rest
will take; an auto-paused campaign's reason; --json adds its account.`, []string{"REDIS_URL"}},
	"campaign pause": {"sendq campaign pause ID", `Pauses a campaign: once this returns, nothing more of it is fed to the
queues and no message of it is taken up; sends already under way, or
waiting for their slot (up to 200 ms ahead), finish. campaign resume
undoes it.`, []string{"REDIS_URL"}},
	"campaign resume": {"sendq campaign resume ID", `Resumes a paused or auto-paused campaign: its held messages go back to
their queues, in order.`, []string{"REDIS_URL"}},
	"campaign cancel": {"sendq campaign cancel ID", `Cancels a campaign: once this returns, none of its messages is sent any
more, and every unsent one reads cancelled. A cancelled campaign cannot
start again.`, []string{"REDIS_URL"}},
	"optout add": {"sendq optout add [--account A] --channel C (--phone P | --contact-id ID)", `Puts a recipient on the account's opt-out list for a channel: marketing
templates to them end suppressed without a call; utility and
authentication ones still go (README "Compliance"). The webhook does the
same when a contact writes an opt-out keyword.`, []string{"REDIS_URL", "SENDQ_ACCOUNTS_FILE"}},
	"optout remove": {"sendq optout remove [--account A] --channel C (--phone P | --contact-id ID)", `Takes a recipient off the account's opt-out list for a channel, as an
opt-in keyword does.`, []string{"REDIS_URL", "SENDQ_ACCOUNTS_FILE"}},
	"optout check": {"sendq optout check [--account A] --channel C (--phone P | --contact-id ID) [--json]", `Prints opted_out or not_opted_out (--json: {"opted_out": true|false}) and
exits 0 either way.`, []string{"REDIS_URL", "SENDQ_ACCOUNTS_FILE"}},
	"optout list": {"sendq optout list [--account A] [--channel C] [--json]", `Prints the account's opt-out list, one entry a line: channel, identifier
kind (phone or contact_id), identifier, and when the recipient opted out.`,
		[]string{"REDIS_URL", "SENDQ_ACCOUNTS_FILE"}},
	"optout import": {"sendq optout import [--account A] FILE", `Adds every row of FILE to the account's opt-out list: CSV with a header
row of channel, and phone and/or contact_id. A bad row exits 2 naming its
line and field, and nothing is imported.`, []string{"REDIS_URL", "SENDQ_ACCOUNTS_FILE"}},
	"dashboard": {"sendq dashboard", `Serves the web UI (/monitoring/), /metrics, /healthz and the HTTP API
(/api/v1/, with SENDQ_API_TOKEN) on SENDQ_HTTP_ADDR against REDIS_URL,
sending nothing: to watch workers that run elsewhere, and to enqueue for them.`,
		[]string{"REDIS_URL", "SENDQ_HTTP_ADDR", "SENDQ_ADMIN_TOKEN", "SENDQ_API_TOKEN", "SENDQ_MONITORING_READONLY", "SENDQ_LOG_FORMAT"}},
	"demo": {"sendq demo [--once]", `Runs the whole system on one machine with no set-up: an embedded Redis
(unless REDIS_URL is set), a local Whautomate sandbox, a worker with its
web UI on SENDQ_HTTP_ADDR (or a free port when that one is taken), and a
batch that takes every path a message can: all four channels and three
kinds, a campaign, a message released by the webhook, one that recovers
from two 503s, one the API refuses for good, one that expires. Prints a
summary table, then serves the web UI until Ctrl-C. The worker reads the
variables of sendq worker but WHAUTOMATE_*; SENDQ_DEMO_LOG, when set,
shows its log on stderr.`, nil},
	"bench": {"sendq bench [flags]", `Measures sendq's send chain next to a bare asynq handler that makes only
the same HTTP call, both against the in-process sandbox: enqueue and send
rates, enqueue-to-send latency under load and idle, CPU per 1,000 messages,
Redis CPU and memory per queued message. Rounds alternate the two modes;
the figures are their medians. It writes and deletes freely in REDIS_URL's
database: give it an empty one, or --flush (README "Figures").`, []string{"REDIS_URL"}},
}

// campaignHelp is `sendq campaign --help`.
const campaignHelp = campaignUsage + `

Bulk runs (README "Campaigns"):
  start --id ID --file F [flags]  enqueue one message per row of a CSV or JSON Lines file
  status ID [--json]              the campaign's state, counts, rate and time to go
  pause ID                        stop sending it (within a fraction of a second)
  resume ID                       let a paused campaign send again
  cancel ID                       nothing of it is sent any more once this returns

sendq campaign SUBCOMMAND --help prints a subcommand's flags.
`

// printHelp is `sendq COMMAND --help`: the synopsis, what the command does,
// every flag of fs with its meaning and default, and what it reads from the
// environment.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	h := helps[fs.Name()]
	fmt.Fprintf(w, "usage: %s\n\n%s\n", h.synopsis, h.about)
	var n int
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nflags:\n")
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		fs.VisitAll(func(f *flag.Flag) {
			kind, meaning := flag.UnquoteUsage(f)
			name := "--" + f.Name
			if kind != "" {
				name += " " + strings.ToUpper(kind)
			}
			if f.DefValue != "" && f.DefValue != "false" {
				meaning += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(tw, "  %s\t%s\n", name, meaning)
		})
		_ = tw.Flush()
	}
	if len(h.env) > 0 {
		printEnv(w, h.env)
	}
}

// printEnv prints the variables named with their defaults and meanings.
func printEnv(w io.Writer, names []string) {
	fmt.Fprint(w, "\nenvironment (README \"Configuration\"):\n")
	for _, v := range envVars {
		if !slices.Contains(names, v.name) {
			continue
		}
		fmt.Fprintf(w, "  %s", v.name)
		if v.def != "" {
			fmt.Fprintf(w, " (default %s)", v.def)
		}
		fmt.Fprintf(w, "\n      %s\n", v.meaning)
	}
}
