package tasks

import (
	"fmt"
	"mime"
	"net/url"
	"strings"
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
