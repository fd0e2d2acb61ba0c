package whautomate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/sendq/sendq/tasks"
)

// Request bodies, field for field as in docs/whautomate-api.md. Names marked
// ASSUMPTION are not documented publicly.

// ref is {"id": …}: a contact, a client or a location.
type ref struct {
	ID string `json:"id"`
}

// person is the "recepient" form (spelled so upstream) for a new or
// unknown person.
type person struct {
	PhoneNumber string `json:"phoneNumber"`
	// ASSUMPTION: name is optional and left out when empty.
	Name string `json:"name,omitempty"`
}

// target is what every send carries: exactly one recipient form, and the
// location when configured.
type target struct {
	Contact   *ref    `json:"contact,omitempty"`
	Client    *ref    `json:"client,omitempty"`
	Recepient *person `json:"recepient,omitempty"`
	Location  *ref    `json:"location,omitempty"`
}

type textBody struct {
	target
	TextMessage string `json:"textMessage"`
}

type mediaBody struct {
	target
	MediaURL string `json:"mediaUrl"`
	MimeType string `json:"mimeType"`
	// Caption is documented for WhatsApp and Telegram only, and sent there only.
	Caption string `json:"caption,omitempty"`
}

type whatsAppTemplate struct {
	Name     string `json:"name"`
	Language string `json:"language"`
}

type whatsAppTemplateBody struct {
	target
	Template             whatsAppTemplate `json:"template"`
	HeaderMediaURL       string           `json:"headerMediaUrl,omitempty"`
	HeaderTextParameters []string         `json:"headerTextParameters,omitempty"`
	BodyTextParameters   []string         `json:"bodyTextParameters,omitempty"`
	ButtonURLParameters  []string         `json:"buttonUrlParameters,omitempty"`
}

// telegramButton — ASSUMPTION: Telegram Bot API names (an inline keyboard
// button: text, and url or callback_data).
type telegramButton struct {
	Text         string `json:"text"`
	URL          string `json:"url,omitempty"`
	CallbackData string `json:"callback_data,omitempty"`
}

type telegramTemplateBody struct {
	target
	TextMessage string           `json:"textMessage"`
	Buttons     []telegramButton `json:"buttons,omitempty"`
}

// card — ASSUMPTION: Meta's generic template element names (title,
// subtitle, image_url, buttons).
type card struct {
	Title    string       `json:"title"`
	Subtitle string       `json:"subtitle,omitempty"`
	ImageURL string       `json:"image_url,omitempty"`
	Buttons  []cardButton `json:"buttons,omitempty"`
}

// cardButton — ASSUMPTION: Meta's button names: {"type": "web_url", "title",
// "url"} for a link, {"type": "postback", "title", "payload"} otherwise (the
// payload defaults to the title).
type cardButton struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	URL     string `json:"url,omitempty"`
	Payload string `json:"payload,omitempty"`
}

type cardsBody struct {
	target
	Elements []card `json:"elements"`
}

// SendWhatsAppText sends a WhatsApp text message (POST /v1/messages/whatsapp/sendtext).
func (c *Client) SendWhatsAppText(ctx context.Context, to tasks.Recipient, text string) (*SendResult, error) {
	return c.sendText(ctx, tasks.WhatsApp, to, text)
}

// SendWhatsAppMedia sends a WhatsApp media message (POST /v1/messages/whatsapp/sendmedia).
func (c *Client) SendWhatsAppMedia(ctx context.Context, to tasks.Recipient, m tasks.Media) (*SendResult, error) {
	return c.sendMedia(ctx, tasks.WhatsApp, to, m)
}

// SendWhatsAppTemplate sends an approved WhatsApp template: Name, Language,
// Params (body parameters), HeaderMediaURL, HeaderParams and ButtonURLParams
// (POST /v1/messages/whatsapp/sendtemplate).
func (c *Client) SendWhatsAppTemplate(ctx context.Context, to tasks.Recipient, t tasks.Template) (*SendResult, error) {
	return c.sendTemplate(ctx, tasks.WhatsApp, to, t)
}

// SendTelegramText sends a Telegram text message (POST /v1/messages/telegram/sendtext).
func (c *Client) SendTelegramText(ctx context.Context, to tasks.Recipient, text string) (*SendResult, error) {
	return c.sendText(ctx, tasks.Telegram, to, text)
}

// SendTelegramMedia sends a Telegram media message (POST /v1/messages/telegram/sendmedia).
func (c *Client) SendTelegramMedia(ctx context.Context, to tasks.Recipient, m tasks.Media) (*SendResult, error) {
	return c.sendMedia(ctx, tasks.Telegram, to, m)
}

// SendTelegramTemplate sends a Telegram template: Text and Buttons
// (POST /v1/messages/telegram/sendtemplate).
func (c *Client) SendTelegramTemplate(ctx context.Context, to tasks.Recipient, t tasks.Template) (*SendResult, error) {
	return c.sendTemplate(ctx, tasks.Telegram, to, t)
}

// SendInstagramText sends an Instagram text message (POST /v1/messages/instagram/sendtext).
func (c *Client) SendInstagramText(ctx context.Context, to tasks.Recipient, text string) (*SendResult, error) {
	return c.sendText(ctx, tasks.Instagram, to, text)
}

// SendInstagramMedia sends an Instagram media message; the caption is not
// sent, the endpoint documents none (POST /v1/messages/instagram/sendmedia).
func (c *Client) SendInstagramMedia(ctx context.Context, to tasks.Recipient, m tasks.Media) (*SendResult, error) {
	return c.sendMedia(ctx, tasks.Instagram, to, m)
}

// SendInstagramTemplate sends generic cards: Elements
// (POST /v1/messages/instagram/sendtemplate).
func (c *Client) SendInstagramTemplate(ctx context.Context, to tasks.Recipient, t tasks.Template) (*SendResult, error) {
	return c.sendTemplate(ctx, tasks.Instagram, to, t)
}

// SendMessengerText sends a Messenger text message (POST /v1/messages/messenger/sendtext).
func (c *Client) SendMessengerText(ctx context.Context, to tasks.Recipient, text string) (*SendResult, error) {
	return c.sendText(ctx, tasks.Messenger, to, text)
}

// SendMessengerMedia sends a Messenger media message; the caption is not
// sent, the endpoint documents none (POST /v1/messages/messenger/sendmedia).
func (c *Client) SendMessengerMedia(ctx context.Context, to tasks.Recipient, m tasks.Media) (*SendResult, error) {
	return c.sendMedia(ctx, tasks.Messenger, to, m)
}

// SendMessengerTemplate sends generic cards: Elements
// (POST /v1/messages/messenger/sendtemplate).
func (c *Client) SendMessengerTemplate(ctx context.Context, to tasks.Recipient, t tasks.Template) (*SendResult, error) {
	return c.sendTemplate(ctx, tasks.Messenger, to, t)
}

// Send sends m through the endpoint of its channel and kind. Errors wrapping
// ErrInvalid mean that m could not be turned into a request; others are an
// *APIError or a *TransportError (see Classify).
func (c *Client) Send(ctx context.Context, m *tasks.Message) (*SendResult, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrInvalid)
	}
	switch m.Kind {
	case tasks.KindText:
		return c.sendText(ctx, m.Channel, m.To, m.Text)
	case tasks.KindMedia:
		if m.Media == nil {
			return nil, fmt.Errorf("%w: media message without media", ErrInvalid)
		}
		return c.sendMedia(ctx, m.Channel, m.To, *m.Media)
	case tasks.KindTemplate:
		if m.Template == nil {
			return nil, fmt.Errorf("%w: template message without template", ErrInvalid)
		}
		return c.sendTemplate(ctx, m.Channel, m.To, *m.Template)
	}
	return nil, fmt.Errorf("%w: unknown kind %q", ErrInvalid, m.Kind)
}

func (c *Client) sendText(ctx context.Context, ch tasks.Channel, to tasks.Recipient, text string) (*SendResult, error) {
	t, err := c.target(ch, to)
	if err != nil {
		return nil, err
	}
	return c.post(ctx, ch, "sendtext", textBody{target: t, TextMessage: text})
}

func (c *Client) sendMedia(ctx context.Context, ch tasks.Channel, to tasks.Recipient, m tasks.Media) (*SendResult, error) {
	t, err := c.target(ch, to)
	if err != nil {
		return nil, err
	}
	body := mediaBody{target: t, MediaURL: m.URL, MimeType: m.MimeType}
	if ch == tasks.WhatsApp || ch == tasks.Telegram {
		body.Caption = m.Caption
	}
	return c.post(ctx, ch, "sendmedia", body)
}

func (c *Client) sendTemplate(ctx context.Context, ch tasks.Channel, to tasks.Recipient, tp tasks.Template) (*SendResult, error) {
	t, err := c.target(ch, to)
	if err != nil {
		return nil, err
	}
	var body any
	switch ch {
	case tasks.WhatsApp:
		body = whatsAppTemplateBody{
			target:               t,
			Template:             whatsAppTemplate{Name: tp.Name, Language: tp.Language},
			HeaderMediaURL:       tp.HeaderMediaURL,
			HeaderTextParameters: tp.HeaderParams,
			BodyTextParameters:   tp.Params,
			ButtonURLParameters:  tp.ButtonURLParams,
		}
	case tasks.Telegram:
		b := telegramTemplateBody{target: t, TextMessage: tp.Text}
		for _, btn := range tp.Buttons {
			tb := telegramButton{Text: btn.Text, URL: btn.URL}
			if btn.URL == "" {
				tb.CallbackData = btn.Payload
			}
			b.Buttons = append(b.Buttons, tb)
		}
		body = b
	default: // Instagram, Messenger: target checked the channel
		b := cardsBody{target: t, Elements: make([]card, 0, len(tp.Elements))}
		for _, e := range tp.Elements {
			cd := card{Title: e.Title, Subtitle: e.Subtitle, ImageURL: e.ImageURL}
			for _, btn := range e.Buttons {
				cb := cardButton{Type: "web_url", Title: btn.Text, URL: btn.URL}
				if btn.URL == "" {
					cb.Type, cb.Payload = "postback", btn.Payload
					if cb.Payload == "" {
						cb.Payload = btn.Text
					}
				}
				cd.Buttons = append(cd.Buttons, cb)
			}
			b.Elements = append(b.Elements, cd)
		}
		body = b
	}
	return c.post(ctx, ch, "sendtemplate", body)
}

// target builds the recipient and location of a send to ch.
func (c *Client) target(ch tasks.Channel, to tasks.Recipient) (target, error) {
	switch ch {
	case tasks.WhatsApp, tasks.Telegram, tasks.Instagram, tasks.Messenger:
	default:
		return target{}, fmt.Errorf("%w: unknown channel %q", ErrInvalid, ch)
	}
	var t target
	if c.location != "" {
		t.Location = &ref{ID: c.location}
	}
	contact, client, phone := strings.TrimSpace(to.ContactID), strings.TrimSpace(to.ClientID), strings.TrimSpace(to.Phone)
	n := 0
	for _, s := range []string{contact, client, phone} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return target{}, fmt.Errorf("%w: the recipient needs exactly one of contact id, client id and phone (has %d)", ErrInvalid, n)
	}
	switch {
	case contact != "":
		t.Contact = &ref{ID: contact}
	case client != "":
		t.Client = &ref{ID: client}
	default:
		digits, err := phoneDigits(phone)
		if err != nil {
			return target{}, err
		}
		t.Recepient = &person{PhoneNumber: digits, Name: strings.TrimSpace(to.Name)}
	}
	return t, nil
}

// phoneDigits reduces an international number to digits, as the API wants
// it: "+65 9876-5432" becomes "6598765432". Separators ( +-.() and spaces)
// are dropped; anything else is an error.
func phoneDigits(p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p))
	for _, r := range p {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == '-' || r == '.' || r == '(' || r == ')' || r == ' ':
		default:
			return "", fmt.Errorf("%w: the phone number has a %q; want digits only", ErrInvalid, r)
		}
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("%w: the phone number has no digits", ErrInvalid)
	}
	return b.String(), nil
}

// post sends body to /v1/messages/{ch}/{op}.
func (c *Client) post(ctx context.Context, ch tasks.Channel, op string, body any) (*SendResult, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	a, err := c.do(ctx, http.MethodPost, "/v1/messages/"+string(ch)+"/"+op, nil, b)
	if err != nil {
		return nil, err
	}
	return parseSendResponse(a.status, a.header, a.body, c.now(), c.key)
}
