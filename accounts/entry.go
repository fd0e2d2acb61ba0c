package accounts

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// loader reads the entries of one accounts file.
type loader struct {
	file     string
	lookup   Lookup
	readFile ReadFile
	d        defaults
}

// setter reads one field of an entry into an account.
type setter func(l *loader, a *Account, n *yaml.Node) error

// value is the setter of a single value that parse reads into the field at
// returns.
func value[T any](parse func(string) (T, error), at func(*Account) *T) setter {
	return func(_ *loader, a *Account, n *yaml.Node) (err error) {
		*at(a), err = scalar(n, parse)
		return err
	}
}

// token is the setter of a field that names the variable holding a token.
func token(at func(*Account) *string) setter {
	return func(l *loader, a *Account, n *yaml.Node) (err error) {
		*at(a), err = l.variable(n)
		return err
	}
}

// fields are the fields an entry may hold, in the order they are read: id
// and the key first (by account), then the others with their setter.
var fields = []struct {
	name string
	set  setter
}{
	{"id", nil},
	{"api_key_env", nil},
	{"api_key_file", nil},
	{"base_url", value(parseBaseURL, func(a *Account) *string { return &a.BaseURL })},
	{"location_id", value(asIs, func(a *Account) *string { return &a.LocationID })},
	{"rate_limit", value(parseBudget, func(a *Account) *ratelimit.Limit { return &a.Budget })},
	{"rates", func(_ *loader, a *Account, n *yaml.Node) error { return limitMap(n, "rates", a.Rates) }},
	{"paces", func(_ *loader, a *Account, n *yaml.Node) error { return limitMap(n, "paces", a.Paces) }},
	{"webhook_token_env", token(func(a *Account) *string { return &a.WebhookToken })},
	{"api_token_env", token(func(a *Account) *string { return &a.APIToken })},
	{"quiet_hours", value(ParseQuietHours, func(a *Account) *QuietHours { return &a.QuietHours })},
	{"timezone", value(parseTimezone, func(a *Account) **time.Location { return &a.Timezone })},
	{"messaging_limit", value(ParseMessagingLimit, func(a *Account) *MessagingLimit { return &a.MessagingLimit })},
}

// account reads entry i of the list.
func (l *loader) account(i int, n *yaml.Node) (Account, error) {
	name := fmt.Sprintf("accounts[%d]", i)
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return Account{}, l.locate(fmt.Errorf("want a mapping of fields, got %s", kind(n)), name, "")
	}
	if id := entryID(n); id != "" {
		name = id
	}
	given, err := entryFields(n)
	if err != nil {
		return Account{}, l.locate(err, name, "")
	}
	if given["id"] == nil {
		return Account{}, l.locate(errors.New("required"), name, "id")
	}
	id, err := scalar(given["id"], asIs)
	if err == nil && !ValidID(id) {
		err = fmt.Errorf("want 1-64 of a-z 0-9 _ -, got %q", id)
	}
	if err != nil {
		return Account{}, l.locate(err, name, "id")
	}
	a := l.d.account(id)
	if a.APIKey, err = l.key(given); err != nil {
		return Account{}, l.locate(err, name, "")
	}
	for _, f := range fields {
		if n := given[f.name]; n != nil && f.set != nil {
			if err := f.set(l, &a, n); err != nil {
				return Account{}, l.locate(err, name, f.name)
			}
		}
	}
	return a, nil
}

// entryID is an entry's id when it is a valid one, else "".
func entryID(n *yaml.Node) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Kind == yaml.ScalarNode && k.Value == "id" && v.Kind == yaml.ScalarNode && ValidID(v.Value) {
			return v.Value
		}
	}
	return ""
}

// entryFields returns an entry's fields by name, leaving out those whose
// value is null, and refuses an unknown key, a repeated one and api_key.
func entryFields(n *yaml.Node) (map[string]*yaml.Node, error) {
	given := make(map[string]*yaml.Node, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := keyName(k)
		switch {
		case name == "api_key":
			return nil, &ConfigError{Field: name, Msg: "keys never stand in the file: " +
				"name the variable that holds it with api_key_env, or its file with api_key_file"}
		case name == "<<":
			return nil, &ConfigError{Field: name, Msg: "merge keys are not read: write the fields, " +
				"or set what every account shares with its SENDQ_ variable"}
		case !known(name):
			return nil, &ConfigError{Field: name, Msg: "unknown key"}
		case seen[name]:
			return nil, &ConfigError{Field: name, Msg: "given twice"}
		}
		seen[name] = true
		if v = deref(v); !isNull(v) {
			given[name] = v
		}
	}
	return given, nil
}

// known reports whether an entry may hold the field name.
func known(name string) bool {
	for _, f := range fields {
		if f.name == name {
			return true
		}
	}
	return false
}

// key reads the account's API key from the variable api_key_env names or the
// file api_key_file names: exactly one of the two.
func (l *loader) key(given map[string]*yaml.Node) (string, error) {
	envNode, fileNode := given["api_key_env"], given["api_key_file"]
	var key, field, from string
	switch {
	case envNode != nil && fileNode != nil:
		return "", &ConfigError{Field: "api_key_file", Msg: "give api_key_env or api_key_file, not both"}
	case envNode != nil:
		v, err := l.variable(envNode)
		if err != nil {
			return "", fieldError(err, "api_key_env")
		}
		key, field, from = strings.TrimSpace(v), "api_key_env", deref(envNode).Value
	case fileNode != nil:
		path, err := scalar(fileNode, asIs)
		if err == nil && path == "" {
			err = errors.New("want a path")
		}
		if err != nil {
			return "", fieldError(err, "api_key_file")
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(l.file), path)
		}
		data, err := l.readFile(path)
		if err != nil {
			return "", &ConfigError{Field: "api_key_file", Msg: path + ": " + readMsg(err), Err: err}
		}
		key, field, from = strings.TrimSpace(string(data)), "api_key_file", path
	default:
		return "", &ConfigError{Field: "api_key_env", Msg: "required: name the variable that holds the key " +
			"(or api_key_file, its file); keys never stand in the file"}
	}
	switch {
	case key == "":
		return "", &ConfigError{Field: field, Msg: from + " is empty"}
	case !validKey(key):
		return "", &ConfigError{Field: field, Msg: "the key in " + from + " holds spaces, control or non-ASCII characters"}
	}
	return key, nil
}

// variable returns the value of the environment variable n names, which
// must be set and not empty.
func (l *loader) variable(n *yaml.Node) (string, error) {
	name, err := scalar(n, asIs)
	if err != nil {
		return "", err
	}
	if !validVarName(name) {
		// Not echoed: it may be a key written where its variable's name goes.
		return "", errors.New("want the name of an environment variable (letters, digits and _)")
	}
	v, ok := l.lookup(name)
	switch {
	case !ok:
		return "", fmt.Errorf("%s is not set", name)
	case v == "":
		return "", fmt.Errorf("%s is empty", name)
	}
	return v, nil
}

// limitMap reads a mapping of channel names to limits, such as rates:
// {whatsapp: 80/s}, into m; errors name the field as rates.whatsapp.
func limitMap(n *yaml.Node, field string, m map[tasks.Channel]ratelimit.Limit) error {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("want a mapping of channels to limits, such as {whatsapp: 80/s}, got %s", kind(n))
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		name := keyName(n.Content[i])
		sub := field + "." + name
		if !slices.Contains(tasks.Channels, tasks.Channel(name)) {
			return &ConfigError{Field: sub, Msg: "unknown channel; want whatsapp, telegram, instagram or messenger"}
		}
		if seen[name] {
			return &ConfigError{Field: sub, Msg: "given twice"}
		}
		seen[name] = true
		l, err := scalar(n.Content[i+1], parseLimit)
		if err != nil {
			return fieldError(err, sub)
		}
		m[tasks.Channel(name)] = l
	}
	return nil
}

// locate completes err as a *ConfigError of this file, about account and
// field unless it names its own.
func (l *loader) locate(err error, account, field string) error {
	ce := fieldError(err, field)
	ce.File = l.file
	if ce.Account == "" {
		ce.Account = account
	}
	return ce
}
