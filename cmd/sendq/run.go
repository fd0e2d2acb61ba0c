package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/sendq/sendq/tasks"
)

// usageError is bad usage or invalid input: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitCode maps run's error to the exit code of INTERFACE.md, writing the
// error as one line to stderr: 0 success, 2 bad usage or invalid input, 1
// anything else.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintln(stderr, "sendq: "+msg)
	var u *usageError
	if errors.As(err, &u) || errors.Is(err, tasks.ErrInvalid) {
		return 2
	}
	return 1
}

const usage = `usage: sendq <command> [flags]

commands:
  worker              run the send worker and its HTTP server
  send [flags]        validate and enqueue one message; prints its id
  status ID           print a message's recorded outcome
  messages CONTACT_ID list a contact's messages (GET /v1/messages/{contactId})
  campaign ...        bulk runs: start, status, pause, resume, cancel
  dashboard           the web UI and metrics alone, against a Redis
  demo [--once]       the whole system on one machine, no set-up
  bench [flags]       measure sendq against a bare asynq handler (sandbox)
`

// run is sendq with its arguments, environment and streams.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command")
	}
	cmd, rest := args[0], args[1:]
	if cmd == "-h" || cmd == "--help" || cmd == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	e, err := loadEnv(lookup)
	if err != nil {
		return usagef("%v", err)
	}
	a := &app{env: e, stdin: stdin, stdout: stdout, stderr: stderr, log: newLogger(e.LogFormat, stderr)}
	switch cmd {
	case "worker":
		return a.worker(ctx, rest)
	case "send":
		return a.send(ctx, rest)
	case "status":
		return a.status(ctx, rest)
	case "messages":
		return a.messages(ctx, rest)
	case "campaign":
		return a.campaign(ctx, rest)
	case "dashboard":
		return a.dashboard(ctx, rest)
	case "demo":
		return a.demo(ctx, rest)
	case "bench":
		return a.bench(ctx, rest)
	}
	fmt.Fprint(stderr, usage)
	return usagef("unknown command %q", cmd)
}

// app carries what every command needs.
type app struct {
	env    *env
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// parse parses a command's flags, which may stand before or after its
// positional arguments, and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			return nil, usagef("%s: unknown flag", a)
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 >= len(args) {
			return nil, usagef("%s: needs a value", a)
		}
		i++
		flags = append(flags, args[i])
	}
	if err := fs.Parse(flags); err != nil {
		return nil, usagef("%v", err)
	}
	return pos, nil
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
