package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/sendq/sendq/tasks"
)

// usageError is bad usage or invalid input: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitCode maps run's error to the exit code of README "Commands", writing
// the error as one line to stderr: 0 success, 2 bad usage or invalid input, 1
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

// errHelp is what a command returns once it has printed its help: run
// turns it into success.
var errHelp = errors.New("help printed")

// run is sendq with its arguments, environment and streams.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command")
	}
	cmd, rest := args[0], args[1:]
	if isHelp(cmd) {
		if len(rest) > 0 && !isHelp(rest[0]) { // sendq help COMMAND: its --help
			return run(ctx, append(slices.Clone(rest), "--help"), lookup, stdin, stdout, stderr)
		}
		printUsage(stdout)
		return nil
	}
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	e, err := loadEnv(lookup)
	if err != nil {
		// Reported once the command's flags are parsed: --help still works.
		a.envErr = usagef("%v", err)
		e = &env{LogFormat: "text"}
	}
	a.env, a.log = e, newLogger(e.LogFormat, stderr)
	err = a.dispatch(ctx, cmd, rest)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// dispatch runs the command cmd with its arguments.
func (a *app) dispatch(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "worker":
		return a.worker(ctx, args)
	case "send":
		return a.send(ctx, args)
	case "status":
		return a.status(ctx, args)
	case "messages":
		return a.messages(ctx, args)
	case "accounts":
		return a.accounts(ctx, args)
	case "campaign":
		return a.campaign(ctx, args)
	case "optout":
		return a.optout(ctx, args)
	case "dashboard":
		return a.dashboard(ctx, args)
	case "demo":
		return a.demo(ctx, args)
	case "bench":
		return a.bench(ctx, args)
	}
	fmt.Fprint(a.stderr, usage)
	return usagef("unknown command %q", cmd)
}

// app carries what every command needs.
type app struct {
	env *env
	// envErr is the environment's error, reported by parse: a command whose
	// environment is wrong still answers --help.
	envErr error
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
// positional arguments, and returns the positionals. On -h or --help it
// prints the command's help to stdout and returns errHelp.
func (a *app) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	flags, pos, err := splitArgs(fs, args)
	if err == nil {
		err = fs.Parse(flags)
	}
	if errors.Is(err, flag.ErrHelp) {
		printHelp(a.stdout, fs)
		return nil, errHelp
	}
	if err != nil {
		var u *usageError
		if !errors.As(err, &u) {
			err = usagef("%v", err)
		}
		return nil, err
	}
	if a.envErr != nil {
		return nil, a.envErr
	}
	return pos, nil
}

// splitArgs separates the flags (with their values) from the positional
// arguments. A help flag is passed on, for fs.Parse to answer flag.ErrHelp.
func splitArgs(fs *flag.FlagSet, args []string) (flags, pos []string, err error) {
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
		if strings.Contains(name, "=") || name == "h" || name == "help" {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			return nil, nil, usagef("%s: unknown flag", a)
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 >= len(args) {
			return nil, nil, usagef("%s: needs a value", a)
		}
		i++
		flags = append(flags, args[i])
	}
	return flags, pos, nil
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "--help", "-help", "help":
		return true
	}
	return false
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
