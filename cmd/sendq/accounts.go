package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"text/tabwriter"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/whautomate"
)

// accountSet is the configured accounts for a command that calls the API
// (cmd names it in errors): every account needs its key.
func (a *app) accountSet(cmd string) (*accounts.Set, error) {
	set := a.env.Accounts
	if set == nil {
		return nil, usagef("no accounts configured")
	}
	if err := set.RequireKeys(); err != nil {
		return nil, usagef("%v by sendq %s", err, cmd)
	}
	return set, nil
}

// account is the account --account names for a command that calls the
// API: the only one when there is one and the flag is not given.
func (a *app) account(cmd, id string) (accounts.Account, error) {
	set, err := a.accountSet(cmd)
	if err != nil {
		return accounts.Account{}, err
	}
	return pickAccount(set, id)
}

// pickAccount is the account --account names in set.
func pickAccount(set *accounts.Set, id string) (accounts.Account, error) {
	acc, err := set.Pick(id)
	if err != nil {
		return acc, usagef("--account (account): %v", err)
	}
	return acc, nil
}

func apiClient(acc accounts.Account) (*whautomate.Client, error) {
	c, err := whautomate.New(whautomate.Config{BaseURL: acc.BaseURL, APIKey: acc.APIKey, LocationID: acc.LocationID})
	if err != nil {
		return nil, usagef("account %s: %v", acc.ID, err)
	}
	return c, nil
}

// checkContact is the contact id `sendq accounts --check` asks for: any id
// will do, since an unknown contact (404) proves the key and the location.
const checkContact = "sendq-key-check"

// accountLine is one account as `sendq accounts` prints it: never its key.
type accountLine struct {
	ID       string `json:"id"`
	Host     string `json:"host"`
	Budget   string `json:"budget"`
	Location bool   `json:"location"`
	Check    string `json:"check,omitempty"`
}

// accounts lists the configured accounts and, with --check, checks each
// key with one request (README "Accounts").
func (a *app) accounts(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("accounts", flag.ContinueOnError)
	check := fs.Bool("check", false, "check each account's key and location with one request (it counts against the account's budget)")
	asJSON := fs.Bool("json", false, "print JSON Lines")
	if pos, err := a.parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("usage: %s", helps[fs.Name()].synopsis)
	}
	if a.env.Accounts == nil {
		return usagef("no accounts configured")
	}
	var failed int
	lines := make([]accountLine, 0, a.env.Accounts.Len())
	for _, acc := range a.env.Accounts.All() {
		l := accountLine{ID: acc.ID, Host: acc.BaseURL, Budget: acc.Budget.String(), Location: acc.LocationID != ""}
		if *check {
			if l.Check = checkKey(ctx, acc); l.Check != "ok" {
				failed++
			}
		}
		lines = append(lines, l)
	}
	if err := a.printAccounts(lines, *asJSON); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d accounts failed the check", failed, len(lines))
	}
	return nil
}

// checkKey makes one request for acc and says what came of it.
func checkKey(ctx context.Context, acc accounts.Account) string {
	if acc.APIKey == "" {
		return "no key"
	}
	api, err := apiClient(acc)
	if err != nil {
		return err.Error()
	}
	_, err = api.Messages(ctx, checkContact, 1, 1)
	var ae *whautomate.APIError
	switch class := whautomate.Classify(err); {
	case err == nil:
		return "ok"
	case class == whautomate.Configuration:
		return "refused: " + err.Error() + " (a bad or revoked key, or a wrong location)"
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return "ok" // the key and location passed; the contact is unknown
	}
	return "failed: " + err.Error()
}

// printAccounts prints the accounts as a table, or as JSON Lines.
func (a *app) printAccounts(lines []accountLine, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		for _, l := range lines {
			if err := enc.Encode(l); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOST\tBUDGET\tLOCATION\tCHECK")
	for _, l := range lines {
		loc := "-"
		if l.Location {
			loc = "set"
		}
		check := l.Check
		if check == "" {
			check = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.ID, l.Host, l.Budget, loc, check)
	}
	return tw.Flush()
}
