package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sendq/sendq/producer"
)

const campaignUsage = "usage: sendq campaign start --id ID --file F [--channel C] [--template NAME --language L | --text T | --media-url U --mime-type M] | status ID | pause ID | resume ID | cancel ID"

// campaign runs `sendq campaign start|status|pause|resume|cancel`.
func (a *app) campaign(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("%s", campaignUsage)
	}
	if isHelp(args[0]) {
		fmt.Fprint(a.stdout, campaignHelp)
		return nil
	}
	switch args[0] {
	case "start":
		return a.campaignStart(ctx, args[1:])
	case "status":
		return a.campaignStatus(ctx, args[1:])
	case "pause", "resume", "cancel":
		return a.campaignControl(ctx, args[0], args[1:])
	}
	return usagef("%s", campaignUsage)
}

func (a *app) campaignStart(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("campaign start", flag.ContinueOnError)
	var mf messageFlags
	mf.register(fs)
	for _, name := range []string{"contact-id", "client-id", "phone", "name"} {
		fs.Lookup(name).Usage = "ignored: each row of the file names its recipient"
	}
	fs.Lookup("category").Usage = "the templates' category: marketing, utility or authentication (default marketing); a row's category column wins"
	id := fs.String("id", "", "campaign id (required)")
	file := fs.String("file", "", "CSV with a header row, or JSON Lines (.jsonl)")
	asJSON := fs.Bool("json", false, "print a JSON object")
	account := fs.String("account", "", "the account to send from (required when several are configured)")
	atFlag := fs.String("at", "", "RFC 3339 time: start sending no earlier than this")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("campaign start takes no arguments, got %q", pos[0])
	}
	if a.env.Accounts != nil {
		if _, err := pickAccount(a.env.Accounts, *account); err != nil {
			return err
		}
	}
	if *id == "" {
		return usagef("--id (campaign): required")
	}
	if *file == "" {
		return usagef("--file: required")
	}
	var at time.Time
	if *atFlag != "" {
		if at, err = time.Parse(time.RFC3339, *atFlag); err != nil {
			return usagef("--at (not_before): want an RFC 3339 time such as 2026-11-24T09:00:00Z")
		}
	}
	f, err := os.Open(*file)
	if err != nil {
		return fmt.Errorf("--file: %v", err)
	}
	defer f.Close()
	ext := strings.ToLower(filepath.Ext(*file))
	defaults := producer.Fields{Channel: mf.channel, Text: mf.text, MediaURL: mf.mediaURL, MimeType: mf.mimeType,
		Caption: mf.caption, Template: mf.template, Language: mf.language, Params: mf.params, Buttons: mf.buttons, Elements: mf.elements,
		Category: mf.category}
	return a.withProducer(ctx, func(p *producer.Producer) error {
		// The file is read as it is stored, never held whole: invalid rows
		// are reported as they come.
		size := int64(0)
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		bar := newProgress(a.stderr, 0, "rows stored")
		bar.bytes(size)
		start := time.Now()
		rejected, valid := 0, 0
		rows := func(emit func(producer.Row) error) error {
			return producer.ScanCampaign(countingReader{f, bar}, ext == ".jsonl" || ext == ".ndjson", defaults,
				func(r producer.Row) error {
					valid++
					r.Message.NotBefore = at
					return emit(r)
				},
				func(b producer.RowError) {
					rejected++
					fmt.Fprintf(a.stderr, "sendq: %s: line %d: %v\n", *file, b.Line, b.Err)
				})
		}
		// A start that died holds the campaign's lock for a few more seconds.
		rep, err := p.StartCampaignFrom(ctx, *id, rows, producer.StartOptions{Progress: bar.set, WaitLock: 15 * time.Second, Account: *account})
		bar.done()
		if err != nil {
			return err
		}
		if valid == 0 {
			return usagef("%s: no valid row (%d rejected)", *file, rejected)
		}
		elapsed := time.Since(start)
		if *asJSON {
			return json.NewEncoder(a.stdout).Encode(map[string]any{"id": rep.ID, "accepted": rep.Accepted,
				"rejected": rejected, "duplicates": rep.Duplicates})
		}
		fmt.Fprintf(a.stdout, "campaign %s: accepted %d, rejected %d, duplicates %d (%.0f rows/s)\n",
			rep.ID, rep.Accepted, rejected, rep.Duplicates, float64(rep.Accepted+rep.Duplicates)/elapsed.Seconds())
		return nil
	})
}

func (a *app) campaignStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("campaign status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print a JSON object")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: %s", helps[fs.Name()].synopsis)
	}
	return a.withProducer(ctx, func(p *producer.Producer) error {
		c, err := p.CampaignStatus(ctx, pos[0])
		if err != nil {
			return err
		}
		counts := map[string]int{}
		for st, n := range c.Counts {
			counts[string(st)] = n
		}
		if *asJSON {
			out := map[string]any{"id": c.ID, "account": c.Account, "state": c.State, "total": c.Total, "counts": counts,
				"rate": c.Rate, "eta_seconds": int(c.ETA.Seconds())}
			if c.Reason != "" {
				out["reason"] = c.Reason
			}
			return json.NewEncoder(a.stdout).Encode(out)
		}
		var parts []string
		for st, n := range counts {
			parts = append(parts, fmt.Sprintf("%s=%d", st, n))
		}
		sort.Strings(parts)
		fmt.Fprintf(a.stdout, "campaign %s: %s, %d messages: %s; %.1f msgs/s, eta %s\n", c.ID, c.State, c.Total,
			strings.Join(parts, " "), c.Rate, c.ETA.Round(time.Second))
		if c.Reason != "" {
			fmt.Fprintf(a.stdout, "reason: %s\n", c.Reason)
		}
		return nil
	})
}

func (a *app) campaignControl(ctx context.Context, verb string, args []string) error {
	fs := flag.NewFlagSet("campaign "+verb, flag.ContinueOnError)
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: %s", helps[fs.Name()].synopsis)
	}
	return a.withProducer(ctx, func(p *producer.Producer) error {
		var err error
		switch verb {
		case "pause":
			err = p.PauseCampaign(ctx, pos[0])
		case "resume":
			err = p.ResumeCampaign(ctx, pos[0])
		case "cancel":
			err = p.CancelCampaign(ctx, pos[0])
		}
		if errors.Is(err, producer.ErrNotFound) {
			return fmt.Errorf("campaign %q: not found", pos[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "campaign %s: %sd\n", pos[0], strings.TrimSuffix(verb, "e"))
		return nil
	})
}
