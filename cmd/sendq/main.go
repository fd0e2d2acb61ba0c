// Command sendq sends WhatsApp, Telegram, Instagram and Messenger messages
// through the Whautomate REST API, reliably and within the channels' rules.
//
// Usage: sendq worker | send | status | messages | campaign | dashboard | demo
// | bench; `sendq --help` and `sendq COMMAND --help` say more (README
// "Commands" and "Configuration").
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
