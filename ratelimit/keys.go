package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxScopeLen is the longest scope id, as account ids are (README
// "Accounts"): 1-64 of a-z, 0-9, _ and -.
const maxScopeLen = 64

// ErrInvalidScope is wrapped by every error about a scope id that is not
// 1-64 of a-z, 0-9, _ and -.
var ErrInvalidScope = errors.New("ratelimit: invalid scope")

// Target names what a cool-down holds or a penalty counts, and what
// CooldownLeft looks at: a whole Scope (Key ""), a Key (of a Scope, or
// unscoped), or one Recipient of the Key.
type Target struct {
	// Scope is the account id; "" for the unscoped keys.
	Scope string
	// Key is the limited key, such as the channel "whatsapp"; "" names the
	// whole Scope.
	Key string
	// Recipient is one recipient of Key; "" names the whole Key.
	Recipient string
}

// Target is what r takes a slot from: its scope, key and recipient.
func (r Request) Target() Target {
	return Target{Scope: r.Scope, Key: r.Key, Recipient: r.Recipient}
}

// validate rejects targets that name nothing or have a bad scope; op
// names the operation in the error.
func (t Target) validate(op string) error {
	if err := validScope(t.Scope); err != nil {
		return err
	}
	switch {
	case t.Key == "" && t.Scope == "":
		return fmt.Errorf("ratelimit: %s: the key is empty", op)
	case t.Key == "" && t.Recipient != "":
		return fmt.Errorf("ratelimit: %s %s: a recipient needs a key", op, t.name())
	}
	return nil
}

// name is t quoted for errors: its scope and key, never its recipient
// (personal data).
func (t Target) name() string {
	switch {
	case t.Scope == "":
		return strconv.Quote(t.Key)
	case t.Key == "":
		return "scope " + strconv.Quote(t.Scope)
	}
	return strconv.Quote(t.Key) + " of scope " + strconv.Quote(t.Scope)
}

// validScope checks a scope id ("" is no scope).
func validScope(s string) error {
	if len(s) > maxScopeLen {
		return fmt.Errorf("%w %q: longer than %d characters", ErrInvalidScope, s, maxScopeLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return fmt.Errorf("%w %q: want 1-%d of a-z, 0-9, _ and -", ErrInvalidScope, s, maxScopeLen)
		}
	}
	return nil
}

// splitHashTag splits prefix around the end of its Redis Cluster hash tag,
// as Redis finds it (the first "{" and the first "}" after it, with
// something in between), so that a scope can go inside the tag: "{sendq}:rl:"
// gives "{sendq" and "}:rl:". ok is false when prefix has no hash tag.
func splitHashTag(prefix string) (head, tail string, ok bool) {
	open := strings.IndexByte(prefix, '{')
	if open < 0 {
		return "", "", false
	}
	closing := strings.IndexByte(prefix[open+1:], '}')
	if closing <= 0 {
		return "", "", false
	}
	end := open + 1 + closing
	return prefix[:end], prefix[end:], true
}

// keyspace is the start of the Redis keys of one scope, or of the unscoped
// keys: Config.Prefix, with ":a:<scope>" inside its hash tag for a scope.
// The layout is documented in lua.go.
type keyspace string

// space returns the keyspace of scope ("" for the unscoped keys).
func (l *Limiter) space(scope string) keyspace {
	if scope == "" {
		return keyspace(l.prefix)
	}
	return keyspace(l.tagHead + ":a:" + scope + l.tagTail)
}

// budget is the scope's budget schedule.
func (k keyspace) budget() string { return string(k) + "b" }

// admission is the admission schedule of one of the scope's lanes (Admit).
func (k keyspace) admission(lane string) string { return string(k) + "q:" + lane }

// scopeCooldown is the scope's cool-down.
func (k keyspace) scopeCooldown() string { return string(k) + "ac" }

// key names a per-key or per-recipient key: a kind ("t:", "c:", "rt:",
// "rc:", "pn:"), the limiter key and, for per-recipient kinds, the
// recipient. Keys and recipients are joined with ":", so a Key that itself
// holds ":" could share a recipient's keys with another Key; the channel
// names sendq uses hold none.
func (k keyspace) key(kind, key, recipient string) string {
	s := string(k) + kind + key
	if recipient != "" {
		s += ":" + recipient
	}
	return s
}

// cooldowns lists the cool-down keys that hold t, broadest first: the
// scope's, the key's, the recipient's, whichever t names; and the reason
// code of each, as leftScript takes them.
func (k keyspace) cooldowns(t Target) (keys []string, codes []any) {
	if t.Scope != "" {
		keys, codes = append(keys, k.scopeCooldown()), append(codes, codeScopeCooldown)
	}
	if t.Key != "" {
		keys, codes = append(keys, k.key("c:", t.Key, "")), append(codes, codeCooldown)
	}
	if t.Recipient != "" {
		keys, codes = append(keys, k.key("rc:", t.Key, t.Recipient)), append(codes, codeRecipientCooldown)
	}
	return keys, codes
}
