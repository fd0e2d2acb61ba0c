package whautomatetest

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sendq/sendq/tasks"
)

const (
	maxText     = 4096
	maxCaption  = 1024 // Telegram
	maxElements = 10   // Meta's generic template
)

// validate checks a send against its endpoint's rules; "" when it passes.
func validate(ch tasks.Channel, kind tasks.Kind, r *sendRequest) string {
	if reason := checkRecipient(r); reason != "" {
		return reason
	}
	if r.Location != nil && strings.TrimSpace(r.Location.ID) == "" {
		return "location.id is required"
	}
	if f := foreignField(ch, kind, r); f != "" {
		return f + " is not accepted by /v1/messages/" + string(ch) + "/send" + string(kind)
	}

	switch kind {
	case tasks.KindText:
		return checkText(r.TextMessage)
	case tasks.KindMedia:
		return checkMedia(ch, r)
	}
	switch ch {
	case tasks.WhatsApp:
		return checkWhatsAppTemplate(r)
	case tasks.Telegram:
		return checkTelegramTemplate(r)
	}
	return checkCards(r.Elements)
}

// checkRecipient checks that exactly one of contact, client or recepient
// is given, and given well.
func checkRecipient(r *sendRequest) string {
	n := 0
	if r.Contact != nil {
		if strings.TrimSpace(r.Contact.ID) == "" {
			return "contact.id is required"
		}
		n++
	}
	if r.Client != nil {
		if strings.TrimSpace(r.Client.ID) == "" {
			return "client.id is required"
		}
		n++
	}
	if r.Recepient != nil {
		if reason := checkPhone(r.Recepient.PhoneNumber); reason != "" {
			return reason
		}
		n++
	}
	switch {
	case n == 0:
		return "one of contact, client or recepient is required"
	case n > 1:
		return "only one of contact, client or recepient may be given"
	}
	return ""
}

// checkPhone checks a recepient's phone number: 7 to 15 digits, nothing else.
func checkPhone(p string) string {
	if p == "" {
		return "recepient.phoneNumber is required"
	}
	if digitsOf(p) != p {
		return "recepient.phoneNumber must be digits only, without + or spaces"
	}
	if len(p) < 7 || len(p) > 15 {
		return "recepient.phoneNumber must have 7 to 15 digits"
	}
	return ""
}

// checkMedia checks a sendmedia request.
func checkMedia(ch tasks.Channel, r *sendRequest) string {
	if reason := checkURL("mediaUrl", deref(r.MediaURL), true); reason != "" {
		return reason
	}
	if mt := deref(r.MimeType); mt == "" || !strings.Contains(mt, "/") {
		return "mimeType is required (e.g. image/jpeg)"
	}
	if ch == tasks.Telegram && utf8.RuneCountInString(deref(r.Caption)) > maxCaption {
		return "caption exceeds 1024 characters"
	}
	return ""
}

// checkWhatsAppTemplate checks a WhatsApp sendtemplate request.
func checkWhatsAppTemplate(r *sendRequest) string {
	if r.Template == nil || strings.TrimSpace(r.Template.Name) == "" {
		return "template.name is required"
	}
	if strings.TrimSpace(r.Template.Language) == "" {
		return "template.language is required"
	}
	return checkURL("headerMediaUrl", deref(r.HeaderMediaURL), false)
}

// checkTelegramTemplate checks a Telegram sendtemplate request: a text with
// buttons.
func checkTelegramTemplate(r *sendRequest) string {
	if reason := checkText(r.TextMessage); reason != "" {
		return reason
	}
	for i, b := range r.Buttons {
		if strings.TrimSpace(b.Text) == "" {
			return "buttons[" + strconv.Itoa(i) + "].text is required"
		}
	}
	return ""
}

// checkCards checks the generic-template cards of an Instagram or Messenger
// sendtemplate request.
func checkCards(elements []element) string {
	if len(elements) == 0 {
		return "elements is required (at least one generic card)"
	}
	if len(elements) > maxElements {
		return "elements may hold at most 10 cards"
	}
	for i, e := range elements {
		if strings.TrimSpace(e.Title) == "" {
			return "elements[" + strconv.Itoa(i) + "].title is required"
		}
		for j, b := range e.Buttons {
			at := "elements[" + strconv.Itoa(i) + "].buttons[" + strconv.Itoa(j) + "]"
			if reason := checkCardButton(at, b); reason != "" {
				return reason
			}
		}
	}
	return ""
}

// checkCardButton checks one card button; at names it in the reason.
func checkCardButton(at string, b cardButton) string {
	switch b.Type {
	case "web_url":
		if reason := checkURL(at+".url", b.URL, true); reason != "" {
			return reason
		}
	case "postback":
		if b.Payload == "" {
			return at + ".payload is required"
		}
	default:
		return at + ".type must be web_url or postback"
	}
	if b.Title == "" {
		return at + ".title is required"
	}
	return ""
}

// foreignField names a field the endpoint does not document; "" if none.
func foreignField(ch tasks.Channel, kind tasks.Kind, r *sendRequest) string {
	type field struct {
		name    string
		present bool
	}
	fields := []field{
		{"textMessage", r.TextMessage != nil},
		{"mediaUrl", r.MediaURL != nil},
		{"mimeType", r.MimeType != nil},
		{"caption", r.Caption != nil},
		{"template", r.Template != nil},
		{"headerMediaUrl", r.HeaderMediaURL != nil},
		{"headerTextParameters", r.HeaderTextParameters != nil},
		{"bodyTextParameters", r.BodyTextParameters != nil},
		{"buttonUrlParameters", r.ButtonURLParameters != nil},
		{"buttons", r.Buttons != nil},
		{"elements", r.Elements != nil},
	}
	var allowed []string
	switch kind {
	case tasks.KindText:
		allowed = []string{"textMessage"}
	case tasks.KindMedia:
		allowed = []string{"mediaUrl", "mimeType"}
		if ch == tasks.WhatsApp || ch == tasks.Telegram {
			allowed = append(allowed, "caption")
		}
	case tasks.KindTemplate:
		switch ch {
		case tasks.WhatsApp:
			allowed = []string{"template", "headerMediaUrl", "headerTextParameters", "bodyTextParameters", "buttonUrlParameters"}
		case tasks.Telegram:
			allowed = []string{"textMessage", "buttons"}
		default:
			allowed = []string{"elements"}
		}
	}
	for _, f := range fields {
		if f.present && !slices.Contains(allowed, f.name) {
			return f.name
		}
	}
	return ""
}

func checkText(p *string) string {
	t := deref(p)
	if strings.TrimSpace(t) == "" {
		return "textMessage is required"
	}
	if utf8.RuneCountInString(t) > maxText {
		return "textMessage exceeds 4096 characters"
	}
	return ""
}

// checkURL checks an https URL; an empty one passes unless required.
func checkURL(name, s string, required bool) string {
	if s == "" {
		if required {
			return name + " is required"
		}
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return name + " must be an https URL"
	}
	return ""
}
