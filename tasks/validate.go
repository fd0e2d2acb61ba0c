package tasks

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalid matches, under errors.Is, every error that reports an invalid
// message: each [*ValidationError] and each error of [Decode].
var ErrInvalid = errors.New("invalid message")

// ValidationError reports the first problem found in a message.
//
// Field names the field as the command line and campaign files do ("id",
// "channel", "to.phone", "media.url", "template.params[1]",
// "template.elements[0].buttons[2].url", …); Reason says what is wrong with it.
type ValidationError struct {
	Field  string
	Reason string
}

// Error returns "field: reason".
func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is reports whether target is [ErrInvalid].
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }

// ParseChannel returns the channel named by s, ignoring case and surrounding
// spaces ("WhatsApp" is [WhatsApp]).
func ParseChannel(s string) (Channel, error) {
	c := Channel(strings.ToLower(strings.TrimSpace(s)))
	if !c.Valid() {
		return "", invalid("channel", "must be whatsapp, telegram, instagram or messenger")
	}
	return c, nil
}

// Valid reports whether c is one of the four channels (in lower case).
func (c Channel) Valid() bool {
	switch c {
	case WhatsApp, Telegram, Instagram, Messenger:
		return true
	}
	return false
}

// ParseKind returns the kind named by s, ignoring case and surrounding spaces.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	if !k.Valid() {
		return "", invalid("kind", "must be text, media or template")
	}
	return k, nil
}

// Valid reports whether k is one of the three kinds (in lower case).
func (k Kind) Valid() bool {
	switch k {
	case KindText, KindMedia, KindTemplate:
		return true
	}
	return false
}

// Validate normalises m in place and checks it, returning the first problem as a
// [*ValidationError].
//
// Normalising trims the ids (ID, the recipient's ContactID and ClientID,
// Campaign), the recipient's Name, URLs, the MIME type and the template name
// and language; writes Channel and Kind in lower case and the phone number as
// digits ([NormalizePhone]); turns empty lists into nil and times into UTC.
// Text, captions and parameters are kept as they are. Validate is idempotent.
//
// Fields are checked in this order: id, account, channel, kind (it must match the one
// content form that is set: Text, Media or Template), to, the content, campaign,
// and the times. Template fields that the channel does not use are reported
// before missing ones.
func (m *Message) Validate() error {
	if m == nil {
		return invalid("message", "missing")
	}
	m.ID = strings.TrimSpace(m.ID)
	if err := checkID("id", m.ID); err != nil {
		return err
	}
	if m.Account = strings.TrimSpace(m.Account); m.Account != "" && !ValidAccountID(m.Account) {
		return invalid("account", "must be 1-64 of a-z, 0-9, _ and -")
	}
	ch, err := ParseChannel(string(m.Channel))
	if err != nil {
		return err
	}
	k, err := ParseKind(string(m.Kind))
	if err != nil {
		return err
	}
	m.Channel, m.Kind = ch, k
	if err := m.checkForm(); err != nil {
		return err
	}
	if err := m.To.validate(); err != nil {
		return err
	}
	switch m.Kind {
	case KindText:
		err = checkText("text", m.Text, MaxTextLen)
	case KindMedia:
		err = m.Media.validate(m.Channel)
	case KindTemplate:
		err = m.Template.validate(m.Channel)
	}
	if err != nil {
		return err
	}
	if m.Campaign = strings.TrimSpace(m.Campaign); m.Campaign != "" {
		if err := checkID("campaign", m.Campaign); err != nil {
			return err
		}
	}
	return m.checkTimes()
}

// ValidAccountID reports whether id is a valid account id: 1 to 64 of a-z,
// 0-9, _ and -, so that it can stand in key names, URL paths and metric
// labels as it is.
func ValidAccountID(id string) bool {
	if len(id) < 1 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

// checkForm checks that exactly one content form is set and that Kind names it.
func (m *Message) checkForm() error {
	var forms []Kind
	if m.Text != "" {
		forms = append(forms, KindText)
	}
	if m.Media != nil {
		forms = append(forms, KindMedia)
	}
	if m.Template != nil {
		forms = append(forms, KindTemplate)
	}
	switch {
	case len(forms) > 1:
		return invalid("kind", "exactly one of text, media or template must be set")
	case len(forms) == 0:
		return invalid(string(m.Kind), "required")
	case forms[0] != m.Kind:
		return invalid("kind", fmt.Sprintf("is %s but the message carries %s", m.Kind, forms[0]))
	}
	return nil
}

// checkTimes puts the times in UTC and checks them.
func (m *Message) checkTimes() error {
	for _, f := range []struct {
		name string
		t    *time.Time
	}{
		{"not_before", &m.NotBefore},
		{"expires_at", &m.ExpiresAt},
		{"created_at", &m.CreatedAt},
	} {
		if f.t.IsZero() {
			*f.t = time.Time{}
			continue
		}
		*f.t = f.t.UTC()
		if y := f.t.Year(); y < 0 || y > 9999 {
			return invalid(f.name, "year must be between 0 and 9999")
		}
	}
	if !m.NotBefore.IsZero() && !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(m.NotBefore) {
		return invalid("expires_at", "must be after not_before")
	}
	return nil
}

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}
