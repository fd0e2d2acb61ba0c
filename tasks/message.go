package tasks

import (
	"time"
)

// Channel is a messaging channel that Whautomate sends through.
type Channel string

// The four channels.
const (
	WhatsApp  Channel = "whatsapp"
	Telegram  Channel = "telegram"
	Instagram Channel = "instagram"
	Messenger Channel = "messenger"
)

// Channels lists every channel, in a fixed order.
var Channels = []Channel{WhatsApp, Telegram, Instagram, Messenger}

// Kind is what a message carries.
type Kind string

// The three kinds.
const (
	KindText     Kind = "text"
	KindMedia    Kind = "media"
	KindTemplate Kind = "template"
)

// Kinds lists every kind, in a fixed order.
var Kinds = []Kind{KindText, KindMedia, KindTemplate}

// Message is one send: the payload of every sendq task.
//
// JSON keys are short on purpose: a campaign keeps millions of these in Redis.
type Message struct {
	// ID is the idempotency key: the same ID is sent at most once for as long as
	// its outcome is kept. It is also the asynq task id.
	ID string `json:"id"`
	// Account is the Whautomate account the message is sent from (see
	// ValidAccountID); empty means the deployment's only account. Its
	// budget, windows and records are its own.
	Account string    `json:"a,omitempty"`
	Channel Channel   `json:"ch"`
	Kind    Kind      `json:"k"`
	To      Recipient `json:"to"`

	// Exactly one of Text, Media and Template is set, matching Kind.
	Text     string    `json:"tx,omitempty"`
	Media    *Media    `json:"md,omitempty"`
	Template *Template `json:"tp,omitempty"`

	// Campaign is the campaign this message belongs to; campaign messages go in
	// the bulk lane, behind transactional ones.
	Campaign string `json:"cp,omitempty"`
	// NotBefore: send no earlier than this (zero: at once).
	NotBefore time.Time `json:"nb,omitzero"`
	// ExpiresAt: give up (state expired) if not sent by then (zero: the worker's
	// default expiry applies).
	ExpiresAt time.Time `json:"ex,omitzero"`
	// CreatedAt is when the message was accepted.
	CreatedAt time.Time `json:"ca,omitzero"`
}

// Recipient names who receives a message: exactly one of ContactID, ClientID
// or Phone (with an optional Name).
type Recipient struct {
	ContactID string `json:"c,omitempty"`
	ClientID  string `json:"l,omitempty"`
	// Phone is an international number; Validate normalises it to digits only.
	Phone string `json:"p,omitempty"`
	// Name is used with Phone, for a person Whautomate does not know yet.
	Name string `json:"n,omitempty"`
}

// Media is a media message.
type Media struct {
	URL      string `json:"u"`
	MimeType string `json:"m"`
	Caption  string `json:"c,omitempty"`
}

// Template is a template message. Which fields apply depends on the channel:
//
//   - WhatsApp: Name and Language (required), Params (body parameters, in
//     order), and optionally HeaderMediaURL, HeaderParams, ButtonURLParams.
//   - Telegram: Text (required, the message shown) and optional Buttons.
//   - Instagram and Messenger: Elements (generic cards, at least one).
type Template struct {
	Name            string    `json:"n,omitempty"`
	Language        string    `json:"l,omitempty"`
	Params          []string  `json:"p,omitempty"`
	HeaderMediaURL  string    `json:"hm,omitempty"`
	HeaderParams    []string  `json:"hp,omitempty"`
	ButtonURLParams []string  `json:"bp,omitempty"`
	Text            string    `json:"t,omitempty"`
	Buttons         []Button  `json:"b,omitempty"`
	Elements        []Element `json:"e,omitempty"`
	// Category is the template's category; empty reads as Utility. Opt-outs
	// and quiet hours apply to Marketing templates only.
	Category Category `json:"cg,omitempty"`
}

// Button is a Telegram template button, or a button on a generic card.
type Button struct {
	Text string `json:"t"`
	URL  string `json:"u,omitempty"`
	// Payload is sent back to Whautomate when the button is pressed (postback).
	Payload string `json:"p,omitempty"`
}

// Element is a generic card of an Instagram or Messenger template.
type Element struct {
	Title    string   `json:"t"`
	Subtitle string   `json:"s,omitempty"`
	ImageURL string   `json:"i,omitempty"`
	Buttons  []Button `json:"b,omitempty"`
}
