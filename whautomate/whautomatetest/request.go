package whautomatetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/sendq/sendq/tasks"
)

// The request body of every send endpoint: the union of their fields. Each
// endpoint then refuses the fields it does not document.
type sendRequest struct {
	Contact              *idRef           `json:"contact"`
	Client               *idRef           `json:"client"`
	Recepient            *person          `json:"recepient"`
	Location             *idRef           `json:"location"`
	TextMessage          *string          `json:"textMessage"`
	MediaURL             *string          `json:"mediaUrl"`
	MimeType             *string          `json:"mimeType"`
	Caption              *string          `json:"caption"`
	Template             *templateRef     `json:"template"`
	HeaderMediaURL       *string          `json:"headerMediaUrl"`
	HeaderTextParameters []string         `json:"headerTextParameters"`
	BodyTextParameters   []string         `json:"bodyTextParameters"`
	ButtonURLParameters  []string         `json:"buttonUrlParameters"`
	Buttons              []telegramButton `json:"buttons"`
	Elements             []element        `json:"elements"`
}

type idRef struct {
	ID string `json:"id"`
}

type person struct {
	PhoneNumber string `json:"phoneNumber"`
	Name        string `json:"name"`
}

type templateRef struct {
	Name     string `json:"name"`
	Language string `json:"language"`
}

type telegramButton struct {
	Text         string `json:"text"`
	URL          string `json:"url"`
	CallbackData string `json:"callback_data"`
}

type element struct {
	Title    string       `json:"title"`
	Subtitle string       `json:"subtitle"`
	ImageURL string       `json:"image_url"`
	Buttons  []cardButton `json:"buttons"`
}

type cardButton struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	URL     string `json:"url"`
	Payload string `json:"payload"`
}

// recipient is the request's recipient key: contact id, client id or phone.
func (r *sendRequest) recipient() string {
	switch {
	case r.Contact != nil && r.Contact.ID != "":
		return r.Contact.ID
	case r.Client != nil && r.Client.ID != "":
		return r.Client.ID
	case r.Recepient != nil:
		return r.Recepient.PhoneNumber
	}
	return ""
}

// kindOf maps an endpoint's last segment to its kind.
func kindOf(op string) (tasks.Kind, bool) {
	switch op {
	case "sendtext":
		return tasks.KindText, true
	case "sendmedia":
		return tasks.KindMedia, true
	case "sendtemplate":
		return tasks.KindTemplate, true
	}
	return "", false
}

// decodeStrict decodes one JSON object with no unknown fields.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ptr[T any](v T) *T { return &v }
