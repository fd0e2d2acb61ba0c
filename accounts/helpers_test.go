package accounts_test

import (
	"io/fs"

	"github.com/sendq/sendq/accounts"
)

// env is a fake environment.
type env map[string]string

func (e env) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

// with returns a copy of e with more variables.
func (e env) with(more env) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// disk is a fake file system of path to content.
type disk map[string]string

func (d disk) read(path string) ([]byte, error) {
	if s, ok := d[path]; ok {
		return []byte(s), nil
	}
	return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
}

// load reads file as accounts.yaml in /etc/sendq beside the files of d.
func load(file string, e env, d disk) (*accounts.Set, error) {
	all := disk{"/etc/sendq/accounts.yaml": file}
	for k, v := range d {
		all[k] = v
	}
	return accounts.Load("/etc/sendq/accounts.yaml", e.lookup, all.read)
}
