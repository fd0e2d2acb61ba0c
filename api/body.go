package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sendq/sendq/tasks"
)

// MessageBody is a message as the API takes it (README "HTTP API"): the
// producer's message with readable keys. Exactly one of Text, Media and
// Template; exactly one recipient form.
type MessageBody struct {
	ID        string        `json:"id,omitempty"`
	Account   string        `json:"account,omitempty"`
	Channel   string        `json:"channel"`
	To        RecipientBody `json:"to"`
	Text      string        `json:"text,omitempty"`
	Media     *MediaBody    `json:"media,omitempty"`
	Template  *TemplateBody `json:"template,omitempty"`
	Campaign  string        `json:"campaign,omitempty"`
	NotBefore string        `json:"not_before,omitempty"`
	ExpiresAt string        `json:"expires_at,omitempty"`
}

// RecipientBody is the message's recipient: exactly one of ContactID,
// ClientID or Phone (with an optional Name).
type RecipientBody struct {
	ContactID string `json:"contact_id,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Name      string `json:"name,omitempty"`
}

// MediaBody is a media message.
type MediaBody struct {
	URL      string `json:"url"`
	MimeType string `json:"mime_type"`
	Caption  string `json:"caption,omitempty"`
}

// TemplateBody is a template message; which fields apply depends on the
// channel (see tasks.Template).
type TemplateBody struct {
	Name            string        `json:"name,omitempty"`
	Language        string        `json:"language,omitempty"`
	Category        string        `json:"category,omitempty"`
	Params          []string      `json:"params,omitempty"`
	HeaderMediaURL  string        `json:"header_media_url,omitempty"`
	HeaderParams    []string      `json:"header_params,omitempty"`
	ButtonURLParams []string      `json:"button_url_params,omitempty"`
	Text            string        `json:"text,omitempty"`
	Buttons         []ButtonBody  `json:"buttons,omitempty"`
	Elements        []ElementBody `json:"elements,omitempty"`
}

// ButtonBody is a Telegram template button or a card's button.
type ButtonBody struct {
	Text    string `json:"text"`
	URL     string `json:"url,omitempty"`
	Payload string `json:"payload,omitempty"`
}

// ElementBody is an Instagram or Messenger card.
type ElementBody struct {
	Title    string       `json:"title"`
	Subtitle string       `json:"subtitle,omitempty"`
	ImageURL string       `json:"image_url,omitempty"`
	Buttons  []ButtonBody `json:"buttons,omitempty"`
}

// Categories are the template categories a message may name.
var Categories = []string{"marketing", "utility", "authentication"}

// DecodeMessage reads one message body strictly — unknown keys, wrong types,
// trailing data and bad times are refused — and builds the message, checked
// by tasks.Message.Validate. Its errors are *tasks.ValidationErrors naming
// the field ("body" for JSON that does not parse).
func DecodeMessage(data []byte) (MessageBody, tasks.Message, error) {
	var b MessageBody
	if err := decodeStrict(data, &b); err != nil {
		return b, tasks.Message{}, err
	}
	m, err := b.Message()
	return b, m, err
}

// decodeStrict unmarshals one JSON value into v, refusing unknown keys and
// anything after the value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &tasks.ValidationError{Field: "body", Reason: "want one JSON object, found more after it"}
	}
	return nil
}

// jsonError names the field a decoding error is about.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &tasks.ValidationError{Field: "body", Reason: "required: a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &tasks.ValidationError{Field: "body", Reason: "malformed JSON: it ends too early"}
	case errors.As(err, &syn):
		return &tasks.ValidationError{Field: "body", Reason: fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return &tasks.ValidationError{Field: field, Reason: "must be " + jsonKind(typ.Type.Kind().String())}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name = strings.Trim(name, `"`); name == "" {
			return &tasks.ValidationError{Field: "body", Reason: `unknown field ""`}
		}
		return &tasks.ValidationError{Field: name, Reason: "unknown field"}
	}
	return &tasks.ValidationError{Field: "body", Reason: "malformed JSON: " + err.Error()}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "int", "int64":
		return "a whole number"
	}
	return "a " + k
}

// Message builds the tasks.Message b describes and validates it. Its errors
// are *tasks.ValidationErrors with the fields named as in the body.
func (b *MessageBody) Message() (tasks.Message, error) {
	m := tasks.Message{
		ID:       b.ID,
		Channel:  tasks.Channel(strings.ToLower(strings.TrimSpace(b.Channel))),
		To:       tasks.Recipient{ContactID: b.To.ContactID, ClientID: b.To.ClientID, Phone: b.To.Phone, Name: b.To.Name},
		Text:     b.Text,
		Campaign: b.Campaign,
	}
	if strings.TrimSpace(b.Channel) == "" {
		return m, &tasks.ValidationError{Field: "channel", Reason: "required: whatsapp, telegram, instagram or messenger"}
	}
	var kinds []tasks.Kind
	if b.Text != "" {
		kinds = append(kinds, tasks.KindText)
	}
	if b.Media != nil {
		kinds = append(kinds, tasks.KindMedia)
		m.Media = &tasks.Media{URL: b.Media.URL, MimeType: b.Media.MimeType, Caption: b.Media.Caption}
	}
	if b.Template != nil {
		kinds = append(kinds, tasks.KindTemplate)
		t, err := b.Template.template()
		if err != nil {
			return m, err
		}
		m.Template = t
	}
	if len(kinds) != 1 {
		return m, &tasks.ValidationError{Field: "kind", Reason: fmt.Sprintf("give exactly one of text, media or template (got %d)", len(kinds))}
	}
	m.Kind = kinds[0]
	var err error
	if m.NotBefore, err = parseTime("not_before", b.NotBefore); err != nil {
		return m, err
	}
	if m.ExpiresAt, err = parseTime("expires_at", b.ExpiresAt); err != nil {
		return m, err
	}
	if m.ID != "" {
		return m, m.Validate()
	}
	// No id: Validate checks everything else, and the caller gives the id.
	m.ID = "unset"
	err = m.Validate()
	m.ID = ""
	return m, err
}

func (t *TemplateBody) template() (*tasks.Template, error) {
	if t.Category != "" && !validCategory(t.Category) {
		return nil, &tasks.ValidationError{Field: "template.category", Reason: "must be marketing, utility or authentication"}
	}
	out := &tasks.Template{Name: t.Name, Language: t.Language, Params: t.Params, HeaderMediaURL: t.HeaderMediaURL,
		HeaderParams: t.HeaderParams, ButtonURLParams: t.ButtonURLParams, Text: t.Text}
	for _, b := range t.Buttons {
		out.Buttons = append(out.Buttons, tasks.Button(b))
	}
	for _, e := range t.Elements {
		el := tasks.Element{Title: e.Title, Subtitle: e.Subtitle, ImageURL: e.ImageURL}
		for _, b := range e.Buttons {
			el.Buttons = append(el.Buttons, tasks.Button(b))
		}
		out.Elements = append(out.Elements, el)
	}
	return out, nil
}

func validCategory(c string) bool {
	for _, v := range Categories {
		if c == v {
			return true
		}
	}
	return false
}

// parseTime reads an RFC 3339 time; "" is the zero time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, &tasks.ValidationError{Field: field, Reason: "want an RFC 3339 time such as 2026-11-24T09:00:00Z"}
	}
	return t, nil
}
