package producer

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sendq/sendq/tasks"
)

// Fields is a message in flat form, as command-line flags and campaign rows
// give it. Message turns it into a tasks.Message.
type Fields struct {
	Channel                     string
	ContactID, ClientID, Phone  string
	Name                        string
	Text                        string
	MediaURL, MimeType, Caption string
	Template, Language          string
	Params                      []string
	Buttons                     []string // Telegram: TEXT=https://URL
	Elements                    []string // Instagram/Messenger: JSON cards
	// Category is the template's category (marketing, utility or
	// authentication); empty is utility, or marketing in a campaign. Only a
	// template has one.
	Category string
}

// Message builds the message. Which kind it is follows from what is set:
// exactly one of Text, media (MediaURL, MimeType, Caption) or a template
// (Template, Language, Params, Buttons, Elements). A template means, by
// channel: WhatsApp, the approved template's name; Telegram, the text shown
// with the buttons; Instagram and Messenger, the title of a generic card
// (more cards as Elements).
func (f *Fields) Message() (tasks.Message, error) {
	m := tasks.Message{To: tasks.Recipient{ContactID: f.ContactID, ClientID: f.ClientID, Phone: f.Phone, Name: f.Name}}
	if strings.TrimSpace(f.Channel) == "" {
		return m, &tasks.ValidationError{Field: "channel", Reason: "required: whatsapp, telegram, instagram or messenger"}
	}
	ch, err := tasks.ParseChannel(f.Channel)
	if err != nil {
		return m, err
	}
	m.Channel = ch
	var kinds []tasks.Kind
	if f.Text != "" {
		kinds = append(kinds, tasks.KindText)
		m.Text = f.Text
	}
	if f.MediaURL != "" || f.MimeType != "" || f.Caption != "" {
		kinds = append(kinds, tasks.KindMedia)
		m.Media = &tasks.Media{URL: f.MediaURL, MimeType: f.MimeType, Caption: f.Caption}
	}
	if f.Template != "" || f.Language != "" || len(f.Params) > 0 || len(f.Buttons) > 0 || len(f.Elements) > 0 {
		kinds = append(kinds, tasks.KindTemplate)
		t, err := f.template(ch)
		if err != nil {
			return m, err
		}
		m.Template = t
	}
	if len(kinds) != 1 {
		return m, &tasks.ValidationError{Field: "kind", Reason: fmt.Sprintf("give exactly one of text, media or template (got %d)", len(kinds))}
	}
	m.Kind = kinds[0]
	if strings.TrimSpace(f.Category) != "" {
		if m.Template == nil {
			return m, &tasks.ValidationError{Field: "template.category", Reason: "only a template has a category"}
		}
		c, err := tasks.ParseCategory(f.Category)
		if err != nil {
			return m, err
		}
		m.Template.Category = c
	}
	return m, nil
}

func (f *Fields) template(ch tasks.Channel) (*tasks.Template, error) {
	t := &tasks.Template{}
	if ch == tasks.WhatsApp {
		if len(f.Buttons) > 0 || len(f.Elements) > 0 {
			return nil, &tasks.ValidationError{Field: "template.buttons", Reason: "buttons and elements are not used on whatsapp"}
		}
		t.Name, t.Language, t.Params = f.Template, f.Language, f.Params
		return t, nil
	}
	if len(f.Params) > 0 || f.Language != "" {
		return nil, &tasks.ValidationError{Field: "template.params", Reason: "only WhatsApp templates take parameters and a language"}
	}
	if ch == tasks.Telegram {
		t.Text = f.Template
		for _, b := range f.Buttons {
			text, url, ok := strings.Cut(b, "=")
			if !ok {
				return nil, &tasks.ValidationError{Field: "template.buttons", Reason: fmt.Sprintf("want TEXT=https://URL, not %q", b)}
			}
			t.Buttons = append(t.Buttons, tasks.Button{Text: text, URL: url})
		}
		return t, nil
	}
	if len(f.Buttons) > 0 {
		return nil, &tasks.ValidationError{Field: "template.buttons", Reason: "use cards (elements) on " + string(ch)}
	}
	if f.Template != "" {
		t.Elements = append(t.Elements, tasks.Element{Title: f.Template})
	}
	for _, e := range f.Elements {
		var el tasks.Element
		if err := json.Unmarshal([]byte(e), &el); err != nil {
			return nil, &tasks.ValidationError{Field: "template.elements", Reason: "not a JSON card: " + err.Error()}
		}
		t.Elements = append(t.Elements, el)
	}
	return t, nil
}
