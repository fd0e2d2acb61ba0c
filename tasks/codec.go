package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// TypePrefix starts the type name of every sendq task.
const TypePrefix = "send:"

// TypeName returns the asynq task type of a message on channel c of kind k:
// "send:<channel>:<kind>".
func TypeName(c Channel, k Kind) string { return TypePrefix + string(c) + ":" + string(k) }

// Type returns the message's asynq task type, [TypeName] of its channel and kind.
func (m *Message) Type() string { return TypeName(m.Channel, m.Kind) }

// ParseType returns the channel and kind of the task type s, which must be one
// of [Types] exactly. Its error is a [*ValidationError] with Field "type".
func ParseType(s string) (Channel, Kind, error) {
	rest, ok := strings.CutPrefix(s, TypePrefix)
	c, k, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || !Channel(c).Valid() || !Kind(k).Valid() {
		return "", "", invalid("type", fmt.Sprintf("%.64q is not send:<channel>:<kind>", s))
	}
	return Channel(c), Kind(k), nil
}

// Types returns the twelve task types, in the order of [Channels] × [Kinds]:
// send:whatsapp:text, send:whatsapp:media, send:whatsapp:template,
// send:telegram:text, …
func Types() []string {
	types := make([]string, 0, len(Channels)*len(Kinds))
	for _, c := range Channels {
		for _, k := range Kinds {
			types = append(types, TypeName(c, k))
		}
	}
	return types
}

// Encode validates m (normalising it in place, see [Message.Validate]) and
// returns it as compact JSON, the payload of its task.
func Encode(m *Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return EncodeValidated(m)
}

// EncodeValidated is Encode for a message that Validate has just accepted
// (bulk enqueues validate each row once, when they read it).
func EncodeValidated(m *Message) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // URLs keep their & as is
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode message %s: %w", m.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Decode reads a task payload written by [Encode] and validates it. Unknown
// JSON keys are ignored, so that older workers read newer payloads. Every
// error matches [ErrInvalid]; a problem with a field is a [*ValidationError].
func Decode(data []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// DecodeTask is [Decode] for a task of type typename; it also checks that the
// type names the payload's channel and kind (otherwise a [*ValidationError]
// with Field "type").
func DecodeTask(typename string, data []byte) (*Message, error) {
	c, k, err := ParseType(typename)
	if err != nil {
		return nil, err
	}
	m, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if m.Channel != c || m.Kind != k {
		return nil, invalid("type", fmt.Sprintf("%s does not match the payload's %s", typename, m.Type()))
	}
	return m, nil
}

// Key returns the recipient's identity for per-recipient pacing and session
// windows: "c:<contact id>", "l:<client id>" or "p:<digits>". It is meant for a
// validated message, whose phone number is normalised.
func (r Recipient) Key() string {
	switch {
	case r.ContactID != "":
		return "c:" + r.ContactID
	case r.ClientID != "":
		return "l:" + r.ClientID
	case r.Phone != "":
		return "p:" + r.Phone
	}
	return ""
}

// Redacted returns the recipient for logs: like [Recipient.Key], except that a
// phone number shows only its last four digits ("p:…5432"), and not even those
// if it is not a valid number. The name is never shown.
func (r Recipient) Redacted() string {
	if r.ContactID != "" || r.ClientID != "" || r.Phone == "" {
		return r.Key()
	}
	p, err := NormalizePhone(r.Phone)
	if err != nil {
		return "p:…"
	}
	return "p:…" + p[len(p)-4:]
}
