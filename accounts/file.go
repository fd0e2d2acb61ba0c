package accounts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the accounts file at path, YAML or JSON (which is YAML), as
// README "Accounts" describes it, with readFile (os.ReadFile in a command):
//
//	accounts:
//	  - id: clinic-sg
//	    api_key_env: CLINIC_SG_KEY
//	    rate_limit: 300/m
//
// It is strict: an unknown key, a repeated key or id, a missing or empty key
// variable, a bad value or an empty list is an error. Keys come from the
// variable api_key_env names or the file api_key_file names (a relative path
// is taken from the accounts file's folder), never from the file itself.
// What an entry leaves out comes from the SENDQ_* variables read through
// lookup, else the built-in defaults; the WHAUTOMATE_* variables are not
// read. Every error is a *ConfigError naming the file, the account and the
// field, or the SENDQ_* variable at fault.
func Load(path string, lookup Lookup, readFile ReadFile) (*Set, error) {
	d, err := readDefaults(lookup)
	if err != nil {
		return nil, err
	}
	data, err := readFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: readMsg(err), Err: err}
	}
	entries, err := outline(path, data)
	if err != nil {
		return nil, err
	}
	l := &loader{file: path, lookup: lookup, readFile: readFile, d: d}
	s := &Set{index: make(map[string]int, len(entries))}
	for i, n := range entries {
		a, err := l.account(i, n)
		if err == nil {
			err = s.add(a)
		}
		if err != nil {
			return nil, l.locate(err, "", "")
		}
	}
	return s, nil
}

// readMsg is a read error's message without the path, which the error's
// file part already names.
func readMsg(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// syntaxLine splits yaml's "line N: message".
var syntaxLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// outline parses data and returns the entries of its accounts list, refusing
// a syntax error, a second document, a key beside accounts and an empty list.
//
// The file is walked as yaml.Nodes rather than decoded into structs with the
// decoder's KnownFields: its error for an unknown key cannot say which
// account holds it, and the walk also refuses a repeated key, gives api_key
// a message of its own, and never quotes a value that may be a key.
func outline(file string, data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, more yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(file, err)
	}
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(file, err)
	default:
		return nil, &ConfigError{File: file, Line: more.Line, Msg: "a second YAML document; want one"}
	}
	var root, list *yaml.Node
	if len(doc.Content) > 0 {
		root = deref(doc.Content[0])
	}
	if root != nil && !isNull(root) {
		if root.Kind != yaml.MappingNode {
			return nil, &ConfigError{File: file, Line: root.Line, Msg: "want a mapping that holds accounts:, got " + kind(root)}
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			k := root.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value != "accounts" {
				return nil, &ConfigError{File: file, Line: k.Line, Field: keyName(k), Msg: "unknown key; the file holds accounts: alone"}
			}
			if list != nil {
				return nil, &ConfigError{File: file, Line: k.Line, Field: "accounts", Msg: "given twice"}
			}
			list = deref(root.Content[i+1])
		}
	}
	switch {
	case list == nil || isNull(list):
		return nil, &ConfigError{File: file, Field: "accounts", Msg: "missing: want a list of accounts"}
	case list.Kind != yaml.SequenceNode:
		return nil, &ConfigError{File: file, Line: list.Line, Field: "accounts", Msg: "want a list of accounts, got " + kind(list)}
	case len(list.Content) == 0:
		return nil, &ConfigError{File: file, Line: list.Line, Field: "accounts", Msg: "empty: want at least one account"}
	}
	return list.Content, nil
}

// syntaxError is a *ConfigError for an error of the YAML parser, with the
// line it names.
func syntaxError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	return &ConfigError{File: file, Line: line, Msg: msg, Err: err}
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// isNull reports whether n is YAML's null: "~", "null" or nothing at all.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kind names a node's kind for a message.
func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return "a single value"
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	default:
		return "a document"
	}
}

// keyName is a mapping key as a field name, quoted unless it is plain.
func keyName(k *yaml.Node) string {
	if k.Kind != yaml.ScalarNode {
		return "(" + kind(k) + " as a key)"
	}
	plain := k.Value != "" && !strings.ContainsFunc(k.Value, func(r rune) bool {
		return r <= ' ' || r > '~' || r == ':' || r == '"'
	})
	if plain {
		return k.Value
	}
	return strconv.Quote(k.Value)
}

// scalar reads a single value with parse.
func scalar[T any](n *yaml.Node, parse func(string) (T, error)) (T, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		var zero T
		return zero, fmt.Errorf("want a single value, got %s", kind(n))
	}
	return parse(n.Value)
}

// asIs is the parse function of a free-text value.
func asIs(s string) (string, error) { return s, nil }
