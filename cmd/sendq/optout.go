package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/optout"
	"github.com/sendq/sendq/tasks"
)

const optoutUsage = "usage: sendq optout add|remove|check [--account A] --channel C (--phone P | --contact-id ID) | list [--account A] [--channel C] [--json] | import [--account A] FILE"

// optoutHelp is `sendq optout --help`.
const optoutHelp = optoutUsage + `

The opt-out list (README "Compliance"): marketing templates to a recipient on
it end suppressed without a call; utility and authentication ones still go.
  add      put a recipient on the list for a channel
  remove   take them off
  check    print opted_out or not_opted_out (exit 0 either way)
  list     every entry: channel, identifier, when
  import   a CSV file with a header: channel, and phone or contact_id

sendq optout SUBCOMMAND --help prints a subcommand's flags.
`

// optout runs `sendq optout add|remove|check|list|import`.
func (a *app) optout(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("%s", optoutUsage)
	}
	if isHelp(args[0]) {
		fmt.Fprint(a.stdout, optoutHelp)
		return nil
	}
	switch args[0] {
	case "add", "remove", "check":
		return a.optoutOne(ctx, args[0], args[1:])
	case "list":
		return a.optoutList(ctx, args[1:])
	case "import":
		return a.optoutImport(ctx, args[1:])
	}
	return usagef("%s", optoutUsage)
}

// optoutSpace is the key space of the account --account names, or of the
// only one.
func (a *app) optoutSpace(id string) (keys.Space, error) {
	if a.env.Accounts == nil {
		return keys.Space{}, usagef("no accounts configured")
	}
	acc, err := a.env.Accounts.Pick(id)
	if err != nil {
		return keys.Space{}, usagef("--account (account): %v", err)
	}
	return keys.Account(acc.ID), nil
}

// withOptout runs fn with the opt-out store on REDIS_URL.
func (a *app) withOptout(ctx context.Context, fn func(*optout.Store) error) error {
	rdb, err := a.redis(ctx, 8)
	if err != nil {
		return err
	}
	defer rdb.Close()
	s, err := optout.New(rdb, optout.Config{})
	if err != nil {
		return err
	}
	return fn(s)
}

// optoutChannel reads --channel, required.
func optoutChannel(s string) (tasks.Channel, error) {
	if strings.TrimSpace(s) == "" {
		return "", usagef("--channel (channel): required: whatsapp, telegram, instagram or messenger")
	}
	ch, err := tasks.ParseChannel(s)
	if err != nil {
		return "", fieldError(err)
	}
	return ch, nil
}

func (a *app) optoutOne(ctx context.Context, sub string, args []string) error {
	fs := flag.NewFlagSet("optout "+sub, flag.ContinueOnError)
	account := fs.String("account", "", "the account (default: the only one configured)")
	channel := fs.String("channel", "", "whatsapp, telegram, instagram or messenger (required)")
	phone := fs.String("phone", "", "the recipient's international phone number")
	contactID := fs.String("contact-id", "", "the recipient's Whautomate contact id")
	var asJSON *bool
	if sub == "check" {
		asJSON = fs.Bool("json", false, `print {"opted_out": true|false}`)
	}
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("optout %s takes no arguments, got %q", sub, pos[0])
	}
	ch, err := optoutChannel(*channel)
	if err != nil {
		return err
	}
	var r tasks.Recipient
	switch p, c := strings.TrimSpace(*phone), strings.TrimSpace(*contactID); {
	case (p == "") == (c == ""):
		return usagef("--phone/--contact-id (to): exactly one is required")
	case p != "":
		digits, err := tasks.NormalizePhone(p)
		if err != nil {
			return usagef("--phone (phone): %s", err.(*tasks.ValidationError).Reason)
		}
		r.Phone = digits
	default:
		r.ContactID = c
	}
	space, err := a.optoutSpace(*account)
	if err != nil {
		return err
	}
	return a.withOptout(ctx, func(s *optout.Store) error {
		switch sub {
		case "add":
			_, err = s.Add(ctx, space, ch, r, time.Now())
		case "remove":
			_, err = s.Remove(ctx, space, ch, r)
		default:
			out, err := s.Check(ctx, space, ch, r)
			if err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(a.stdout).Encode(map[string]bool{"opted_out": out})
			}
			if out {
				fmt.Fprintln(a.stdout, "opted_out")
			} else {
				fmt.Fprintln(a.stdout, "not_opted_out")
			}
		}
		return err
	})
}

func (a *app) optoutList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("optout list", flag.ContinueOnError)
	account := fs.String("account", "", "the account (default: the only one configured)")
	channel := fs.String("channel", "", "only this channel (default: every channel)")
	asJSON := fs.Bool("json", false, "print JSON Lines: channel, contact_id or phone, at")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("optout list takes no arguments, got %q", pos[0])
	}
	channels := tasks.Channels
	if *channel != "" {
		ch, err := optoutChannel(*channel)
		if err != nil {
			return err
		}
		channels = []tasks.Channel{ch}
	}
	space, err := a.optoutSpace(*account)
	if err != nil {
		return err
	}
	return a.withOptout(ctx, func(s *optout.Store) error {
		enc := json.NewEncoder(a.stdout)
		tw := tabwriter.NewWriter(a.stdout, 0, 2, 2, ' ', 0)
		const page = 1000
		for _, ch := range channels {
			for offset := 0; ; offset += page {
				entries, _, err := s.List(ctx, space, ch, offset, page)
				if err != nil {
					return err
				}
				for _, e := range entries {
					if *asJSON {
						if err := enc.Encode(e); err != nil {
							return err
						}
						continue
					}
					kind, id := "contact_id", e.ContactID
					switch {
					case e.Phone != "":
						kind, id = "phone", e.Phone
					case e.ClientID != "":
						kind, id = "client_id", e.ClientID
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Channel, kind, id, e.At.Format(time.RFC3339))
				}
				if len(entries) < page {
					break
				}
			}
		}
		return tw.Flush()
	})
}

func (a *app) optoutImport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("optout import", flag.ContinueOnError)
	account := fs.String("account", "", "the account (default: the only one configured)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: %s", helps[fs.Name()].synopsis)
	}
	file := pos[0]
	f, err := os.Open(file)
	if err != nil {
		return usagef("%s: %v", file, err)
	}
	defer f.Close()
	entries, err := readOptoutCSV(f)
	if err != nil {
		return usagef("%s: %v", file, err)
	}
	space, err := a.optoutSpace(*account)
	if err != nil {
		return err
	}
	return a.withOptout(ctx, func(s *optout.Store) error {
		added, err := s.Import(ctx, space, entries, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "imported %d entries, %d new\n", len(entries), added)
		return nil
	})
}

// readOptoutCSV reads an import file: a header with channel, and phone
// and/or contact_id; a row gives a phone or a contact id, or both. The
// first bad row is an error naming its line and field.
func readOptoutCSV(r io.Reader) ([]optout.Entry, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: want a header with channel, and phone or contact_id")
	}
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "channel", "phone", "contact_id":
			if _, dup := col[h]; dup {
				return nil, fmt.Errorf("line 1: column %q twice", h)
			}
			col[h] = i
		default:
			return nil, fmt.Errorf("line 1: unknown column %q (want channel, phone, contact_id)", h)
		}
	}
	_, hasPhone := col["phone"]
	_, hasContact := col["contact_id"]
	if _, ok := col["channel"]; !ok || !hasPhone && !hasContact {
		return nil, errors.New("line 1: want a header with channel, and phone or contact_id")
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var entries []optout.Entry
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		ch, err := tasks.ParseChannel(get(rec, "channel"))
		if err != nil {
			return nil, fmt.Errorf("line %d: channel: must be whatsapp, telegram, instagram or messenger", line)
		}
		e := optout.Entry{Channel: ch, ContactID: get(rec, "contact_id")}
		if p := get(rec, "phone"); p != "" {
			if e.Phone, err = tasks.NormalizePhone(p); err != nil {
				return nil, fmt.Errorf("line %d: phone: %s", line, err.(*tasks.ValidationError).Reason)
			}
		}
		if e.Phone == "" && e.ContactID == "" {
			return nil, fmt.Errorf("line %d: phone or contact_id: required", line)
		}
		entries = append(entries, e)
	}
}
