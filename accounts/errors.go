package accounts

import (
	"errors"
	"strconv"
	"strings"
)

// ErrNoKey is wrapped by the error of Set.RequireKeys: an account has no API
// key (only the environment's default account can lack one).
var ErrNoKey = errors.New("accounts: no API key")

// ErrUnknownAccount is wrapped by the error of Set.Pick for an id that is not
// configured.
var ErrUnknownAccount = errors.New("unknown account")

// ErrAccountRequired is wrapped by the error of Set.Pick when no id is given
// and more than one account is configured.
var ErrAccountRequired = errors.New("required: several accounts are configured")

// ConfigError is a bad configuration: a value of the accounts file or of an
// environment variable. Its message is one line that names the file, the
// account and the field, such as
//
//	accounts.yaml: account clinic-sg: rate_limit: want N/s, N/m or N/h, got "fast"
//
// Commands exit 2 on it. Messages never hold an API key or a token.
type ConfigError struct {
	// File is the accounts file; empty for an environment variable.
	File string
	// Line is the line in File, for errors that no account and field locate
	// (syntax errors, the file's outline); 0 otherwise.
	Line int
	// Account is the account's id, or "accounts[N]" (counting from 0) for an
	// entry of the file without a valid id of its own; empty when the error
	// concerns no one account.
	Account string
	// Field is the field ("rate_limit", "rates.whatsapp") or the environment
	// variable ("SENDQ_TIMEZONE"); empty when the error concerns none.
	Field string
	// Msg says what is wrong, on one line.
	Msg string
	// Err is the underlying error, if any (such as fs.ErrNotExist or
	// ratelimit.ErrInvalidLimit), for errors.Is.
	Err error
}

// Error joins the parts that are set: file, line, account, field, message.
func (e *ConfigError) Error() string {
	parts := make([]string, 0, 5)
	if e.File != "" {
		parts = append(parts, e.File)
	}
	if e.Line > 0 {
		parts = append(parts, "line "+strconv.Itoa(e.Line))
	}
	switch {
	case e.Account == "":
	case ValidID(e.Account):
		parts = append(parts, "account "+e.Account)
	default:
		parts = append(parts, e.Account) // accounts[N]
	}
	if e.Field != "" {
		parts = append(parts, e.Field)
	}
	parts = append(parts, oneLine(e.Msg))
	return strings.Join(parts, ": ")
}

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// oneLine folds line breaks, which a library's message may hold, into "; ".
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "; ")
}

// fieldError returns err as a *ConfigError, about field unless it names its
// own.
func fieldError(err error, field string) *ConfigError {
	ce, ok := err.(*ConfigError)
	if !ok {
		ce = &ConfigError{Msg: err.Error(), Err: err}
	}
	if ce.Field == "" {
		ce.Field = field
	}
	return ce
}
