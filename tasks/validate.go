package tasks

import (
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on message content, in characters (runes).
const (
	// MaxTextLen is the longest text message, Telegram template text and
	// WhatsApp caption.
	MaxTextLen = 4096
	// MaxTelegramCaptionLen is the longest caption of a Telegram media message.
	MaxTelegramCaptionLen = 1024
)

const (
	maxIDLen           = 200 // id, to.contact_id, to.client_id, campaign
	maxNameLen         = 256 // to.name
	maxTemplateNameLen = 512
	maxParamLen        = 1024
	maxElements        = 10
	maxElementTextLen  = 80 // element title and subtitle
	maxElementButtons  = 3
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

// NormalizePhone returns the international phone number s as digits only, the
// form Whautomate expects: it drops a leading "+" or "00" and the spaces,
// dashes, dots and parentheses between digits. The result must be an E.164
// number: 8 to 15 digits, starting with the country code (not 0). Any other
// character is an error. Errors are [*ValidationError]s with Field "phone".
func NormalizePhone(s string) (string, error) {
	digits := make([]byte, 0, len(s))
	plus := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		case c == '+' && !plus && len(digits) == 0:
			plus = true
		default:
			return "", invalid("phone", "must be digits with country code; only a leading +, spaces, dashes, dots and parentheses may stand between them")
		}
	}
	if len(digits) >= 2 && digits[0] == '0' && digits[1] == '0' {
		digits = digits[2:]
	}
	if len(digits) > 0 && digits[0] == '0' {
		return "", invalid("phone", "must start with the country code, not 0")
	}
	if len(digits) < 8 || len(digits) > 15 {
		return "", invalid("phone", "must be 8 to 15 digits with country code")
	}
	return string(digits), nil
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
// Fields are checked in this order: id, channel, kind (it must match the one
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

func (r *Recipient) validate() error {
	r.ContactID = strings.TrimSpace(r.ContactID)
	r.ClientID = strings.TrimSpace(r.ClientID)
	r.Phone = strings.TrimSpace(r.Phone)
	r.Name = strings.TrimSpace(r.Name)
	n := 0
	for _, s := range []string{r.ContactID, r.ClientID, r.Phone} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return invalid("to", "exactly one of contact_id, client_id or phone must be set")
	}
	switch {
	case r.ContactID != "":
		if err := checkID("to.contact_id", r.ContactID); err != nil {
			return err
		}
	case r.ClientID != "":
		if err := checkID("to.client_id", r.ClientID); err != nil {
			return err
		}
	default:
		p, err := NormalizePhone(r.Phone)
		if err != nil {
			return invalid("to.phone", err.(*ValidationError).Reason)
		}
		r.Phone = p
	}
	if r.Name == "" {
		return nil
	}
	if r.Phone == "" {
		return invalid("to.name", "only used with phone")
	}
	if err := checkText("to.name", r.Name, maxNameLen); err != nil {
		return err
	}
	if strings.IndexFunc(r.Name, unicode.IsControl) >= 0 {
		return invalid("to.name", "must not contain control characters")
	}
	return nil
}

func (md *Media) validate(ch Channel) error {
	md.URL = strings.TrimSpace(md.URL)
	if err := checkURL("media.url", md.URL); err != nil {
		return err
	}
	md.MimeType = strings.TrimSpace(md.MimeType)
	if err := checkMIME("media.mime_type", md.MimeType); err != nil {
		return err
	}
	if md.Caption == "" {
		return nil
	}
	switch ch {
	case Instagram, Messenger:
		return invalid("media.caption", "not supported on "+string(ch))
	case Telegram:
		return checkText("media.caption", md.Caption, MaxTelegramCaptionLen)
	}
	return checkText("media.caption", md.Caption, MaxTextLen)
}

func (t *Template) validate(ch Channel) error {
	t.Name = strings.TrimSpace(t.Name)
	t.Language = strings.TrimSpace(t.Language)
	t.HeaderMediaURL = strings.TrimSpace(t.HeaderMediaURL)
	t.Params = nilIfEmpty(t.Params)
	t.HeaderParams = nilIfEmpty(t.HeaderParams)
	t.ButtonURLParams = nilIfEmpty(t.ButtonURLParams)
	t.Buttons = nilIfEmpty(t.Buttons)
	t.Elements = nilIfEmpty(t.Elements)

	whatsapp, telegram, cards := ch == WhatsApp, ch == Telegram, ch == Instagram || ch == Messenger
	for _, f := range []struct {
		name      string
		set, used bool
	}{
		{"template.name", t.Name != "", whatsapp},
		{"template.language", t.Language != "", whatsapp},
		{"template.params", t.Params != nil, whatsapp},
		{"template.header_media_url", t.HeaderMediaURL != "", whatsapp},
		{"template.header_params", t.HeaderParams != nil, whatsapp},
		{"template.button_url_params", t.ButtonURLParams != nil, whatsapp},
		{"template.text", t.Text != "", telegram},
		{"template.buttons", t.Buttons != nil, telegram},
		{"template.elements", t.Elements != nil, cards},
	} {
		if f.set && !f.used {
			return invalid(f.name, "not used on "+string(ch))
		}
	}

	switch {
	case whatsapp:
		return t.validateWhatsApp()
	case telegram:
		if err := checkText("template.text", t.Text, MaxTextLen); err != nil {
			return err
		}
		for i := range t.Buttons {
			if err := t.Buttons[i].validate(fmt.Sprintf("template.buttons[%d]", i)); err != nil {
				return err
			}
		}
		return nil
	}
	if len(t.Elements) == 0 {
		return invalid("template.elements", fmt.Sprintf("required on %s: 1 to %d cards", ch, maxElements))
	}
	if len(t.Elements) > maxElements {
		return invalid("template.elements", fmt.Sprintf("must be 1 to %d cards", maxElements))
	}
	for i := range t.Elements {
		if err := t.Elements[i].validate(fmt.Sprintf("template.elements[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (t *Template) validateWhatsApp() error {
	if t.Name == "" {
		return invalid("template.name", "required on whatsapp")
	}
	if err := checkText("template.name", t.Name, maxTemplateNameLen); err != nil {
		return err
	}
	if t.Language == "" {
		return invalid("template.language", "required on whatsapp")
	}
	if !validLanguage(t.Language) {
		return invalid("template.language", "must be a language code like en or en_US")
	}
	if err := checkParams("template.params", t.Params); err != nil {
		return err
	}
	if t.HeaderMediaURL != "" {
		if err := checkURL("template.header_media_url", t.HeaderMediaURL); err != nil {
			return err
		}
		if t.HeaderParams != nil {
			return invalid("template.header_params", "not used with header_media_url")
		}
	}
	if err := checkParams("template.header_params", t.HeaderParams); err != nil {
		return err
	}
	return checkParams("template.button_url_params", t.ButtonURLParams)
}

func (e *Element) validate(field string) error {
	e.ImageURL = strings.TrimSpace(e.ImageURL)
	e.Buttons = nilIfEmpty(e.Buttons)
	if err := checkText(field+".title", e.Title, maxElementTextLen); err != nil {
		return err
	}
	if e.Subtitle != "" {
		if err := checkText(field+".subtitle", e.Subtitle, maxElementTextLen); err != nil {
			return err
		}
	}
	if e.ImageURL != "" {
		if err := checkURL(field+".image_url", e.ImageURL); err != nil {
			return err
		}
	}
	if len(e.Buttons) > maxElementButtons {
		return invalid(field+".buttons", fmt.Sprintf("at most %d", maxElementButtons))
	}
	for i := range e.Buttons {
		if err := e.Buttons[i].validate(fmt.Sprintf("%s.buttons[%d]", field, i)); err != nil {
			return err
		}
	}
	return nil
}

func (b *Button) validate(field string) error {
	b.URL = strings.TrimSpace(b.URL)
	if err := checkText(field+".text", b.Text, MaxTextLen); err != nil {
		return err
	}
	if b.URL != "" {
		if err := checkURL(field+".url", b.URL); err != nil {
			return err
		}
	}
	if !utf8.ValidString(b.Payload) {
		return invalid(field+".payload", "must be valid UTF-8")
	}
	return nil
}

// checkID checks an identifier: 1 to maxIDLen characters, no spaces or control
// characters.
func checkID(field, s string) error {
	switch {
	case s == "":
		return invalid(field, "required")
	case !utf8.ValidString(s):
		return invalid(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > maxIDLen:
		return invalid(field, fmt.Sprintf("must be at most %d characters", maxIDLen))
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return invalid(field, "must not contain spaces or control characters")
	}
	return nil
}

// checkText checks a required text: set, not blank, valid UTF-8, at most max
// characters.
func checkText(field, s string, max int) error {
	switch {
	case s == "":
		return invalid(field, "required")
	case strings.TrimSpace(s) == "":
		return invalid(field, "must not be blank")
	case !utf8.ValidString(s):
		return invalid(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		return invalid(field, fmt.Sprintf("must be at most %d characters", max))
	}
	return nil
}

// checkParams checks WhatsApp template parameters. Meta refuses parameters with
// new lines, tabs or more than four consecutive spaces (error 132018).
func checkParams(field string, params []string) error {
	for i, p := range params {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := checkText(f, p, maxParamLen); err != nil {
			return err
		}
		if strings.ContainsAny(p, "\n\r\t") || strings.Contains(p, "     ") {
			return invalid(f, "must not contain new lines, tabs or more than 4 consecutive spaces")
		}
	}
	return nil
}

// checkURL checks a required absolute https URL with a host.
func checkURL(field, s string) error {
	if s == "" {
		return invalid(field, "required")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || !utf8.ValidString(s):
		return invalid(field, "must be an absolute https URL")
	case u.Scheme != "https":
		return invalid(field, "must be an https URL")
	case u.Hostname() == "":
		return invalid(field, "must be an https URL with a host")
	}
	return nil
}

// checkMIME checks a MIME type of the form type/subtype (RFC 6838 names),
// optionally with parameters ("audio/ogg; codecs=opus").
func checkMIME(field, s string) error {
	if s == "" {
		return invalid(field, "required")
	}
	mt, _, err := mime.ParseMediaType(s)
	typ, sub, ok := strings.Cut(mt, "/")
	if err != nil || !ok || !mimeName(typ) || !mimeName(sub) {
		return invalid(field, "must be a MIME type of the form type/subtype")
	}
	return nil
}

// mimeName reports whether s is an RFC 6838 restricted-name.
func mimeName(s string) bool {
	if s == "" || len(s) > 127 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("!#$&-^_.+", rune(c))) {
			return false
		}
	}
	return true
}

// validLanguage reports whether s is a language code like "en", "fil" or
// "en_US", as WhatsApp templates name them.
func validLanguage(s string) bool {
	lang, region, hasRegion := strings.Cut(s, "_")
	return len(lang) >= 2 && len(lang) <= 3 && allIn(lang, 'a', 'z') &&
		(!hasRegion || len(region) == 2 && allIn(region, 'A', 'Z'))
}

func allIn(s string, lo, hi byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < lo || s[i] > hi {
			return false
		}
	}
	return true
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
