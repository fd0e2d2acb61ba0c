package tasks

import (
	"strings"
	"unicode"
)

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
