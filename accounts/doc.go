// Package accounts is the account as sendq knows it — one Whautomate
// account that sendq sends for — and the loading of the accounts from the
// configuration (see README "Accounts").
//
// An Account holds what identifies it and reaches the API (id, key, host,
// location) and what holds for all of its messages across every worker
// process: its budget (the one limit every request of the account takes;
// Whautomate allows 300 requests a minute), the per-channel caps and
// per-recipient paces under it, its webhook and HTTP API tokens, quiet
// hours, default time zone and WhatsApp messaging limit.
//
// A deployment has either one account, Default, made from the WHAUTOMATE_*
// variables (FromEnv), or the accounts of the YAML (or JSON) file that
// SENDQ_ACCOUNTS_FILE names (Load); Configure chooses as the commands do.
// What an account does not set comes from the SENDQ_* variables, else the
// built-in defaults. The package reads the environment and files only
// through the Lookup and ReadFile it is given: the commands pass
// os.LookupEnv and os.ReadFile, tests their fakes.
//
// # Keys stay secret
//
// The file names where each key is (api_key_env: a variable, or
// api_key_file: a file) and never holds one; an api_key field is refused.
// An Account prints (fmt's verbs, slog, JSON) without its key and tokens,
// and no error message quotes one.
//
// # Errors
//
// Every bad configuration is a *ConfigError whose message is one line naming
// the file, the account (its id, or accounts[N] for an entry without a valid
// one) and the field, or the environment variable at fault:
//
//	/etc/sendq/accounts.yaml: account clinic-sg: rate_limit: want N/s, N/m or N/h, got "fast"
//
// Commands exit 2 on it.
package accounts
