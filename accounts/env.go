package accounts

import (
	"maps"
	"strings"
	"time"

	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// Lookup reads an environment variable, as os.LookupEnv does. The package
// reads the environment only through one, given by the command.
type Lookup func(name string) (value string, ok bool)

// ReadFile reads a file, as os.ReadFile does.
type ReadFile func(path string) ([]byte, error)

// defaults are the settings every account takes unless the file gives its
// own: the SENDQ_* variables, else the built-in defaults.
type defaults struct {
	rates, paces map[tasks.Channel]ratelimit.Limit
	webhookToken string
	quietHours   QuietHours
	timezone     *time.Location
	limit        MessagingLimit
}

// readDefaults reads SENDQ_RATE_*, SENDQ_PACE_*, SENDQ_WEBHOOK_TOKEN,
// SENDQ_QUIET_HOURS, SENDQ_TIMEZONE and SENDQ_MESSAGING_LIMIT; errors are
// *ConfigError naming the variable.
func readDefaults(lookup Lookup) (defaults, error) {
	d := defaults{rates: DefaultRates(), paces: DefaultPaces(), timezone: time.UTC}
	for _, ch := range tasks.Channels {
		name := strings.ToUpper(string(ch))
		for _, v := range []struct {
			name string
			into map[tasks.Channel]ratelimit.Limit
		}{{"SENDQ_RATE_" + name, d.rates}, {"SENDQ_PACE_" + name, d.paces}} {
			if s, ok := lookup(v.name); ok {
				l, err := parseLimit(s)
				if err != nil {
					return d, named(v.name, err)
				}
				v.into[ch] = l
			}
		}
	}
	d.webhookToken, _ = lookup("SENDQ_WEBHOOK_TOKEN")
	var err error
	if v, ok := lookup("SENDQ_QUIET_HOURS"); ok {
		if d.quietHours, err = ParseQuietHours(v); err != nil {
			return d, named("SENDQ_QUIET_HOURS", err)
		}
	}
	if v, ok := lookup("SENDQ_TIMEZONE"); ok {
		if d.timezone, err = parseTimezone(v); err != nil {
			return d, named("SENDQ_TIMEZONE", err)
		}
	}
	if v, ok := lookup("SENDQ_MESSAGING_LIMIT"); ok && v != "" {
		if d.limit, err = ParseMessagingLimit(v); err != nil {
			return d, named("SENDQ_MESSAGING_LIMIT", err)
		}
	}
	return d, nil
}

// account is a new account with the defaults: DefaultBaseURL and
// DefaultBudget, and its own copies of the maps.
func (d defaults) account(id string) Account {
	return Account{
		ID:             id,
		BaseURL:        DefaultBaseURL,
		Budget:         DefaultBudget,
		Rates:          maps.Clone(d.rates),
		Paces:          maps.Clone(d.paces),
		WebhookToken:   d.webhookToken,
		QuietHours:     d.quietHours,
		Timezone:       d.timezone,
		MessagingLimit: d.limit,
	}
}

// FromEnv makes the one account Default from the environment:
// WHAUTOMATE_API_KEY, WHAUTOMATE_BASE_URL, WHAUTOMATE_LOCATION_ID and
// WHAUTOMATE_RATE_LIMIT, with the SENDQ_* settings of every account (see
// README "Configuration"). A missing key is no error here: the commands that
// call the API check Set.RequireKeys. Errors are *ConfigError naming the
// variable.
func FromEnv(lookup Lookup) (*Set, error) {
	d, err := readDefaults(lookup)
	if err != nil {
		return nil, err
	}
	a := d.account(Default)
	a.APIKey, _ = lookup("WHAUTOMATE_API_KEY")
	a.LocationID, _ = lookup("WHAUTOMATE_LOCATION_ID")
	if v, _ := lookup("WHAUTOMATE_BASE_URL"); v != "" {
		if a.BaseURL, err = parseBaseURL(v); err != nil {
			return nil, named("WHAUTOMATE_BASE_URL", err)
		}
	}
	if v, ok := lookup("WHAUTOMATE_RATE_LIMIT"); ok {
		if a.Budget, err = parseBudget(v); err != nil {
			return nil, named("WHAUTOMATE_RATE_LIMIT", err)
		}
	}
	s, err := NewSet(a)
	if err != nil {
		return nil, err
	}
	s.fromEnv = true
	return s, nil
}

// Configure reads the accounts as a command does: from the file
// SENDQ_ACCOUNTS_FILE names, when it is set and not empty (Load), else from
// the WHAUTOMATE_* variables (FromEnv).
func Configure(lookup Lookup, readFile ReadFile) (*Set, error) {
	if path, _ := lookup("SENDQ_ACCOUNTS_FILE"); path != "" {
		return Load(path, lookup, readFile)
	}
	return FromEnv(lookup)
}

// named returns err as a *ConfigError about the environment variable name.
func named(name string, err error) error { return fieldError(err, name) }
