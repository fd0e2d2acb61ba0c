package tasks

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newMessage returns a valid message of channel ch and kind k, with every
// optional field of its kind set.
func newMessage(ch Channel, k Kind) *Message {
	m := &Message{ID: "msg-1", Channel: ch, Kind: k, To: Recipient{ContactID: "contact-1"}}
	switch k {
	case KindText:
		m.Text = "Your order has shipped."
	case KindMedia:
		m.Media = &Media{URL: "https://cdn.example.com/a.jpg?w=1&h=2", MimeType: "image/jpeg"}
		if ch == WhatsApp || ch == Telegram {
			m.Media.Caption = "Your receipt"
		}
	case KindTemplate:
		switch ch {
		case WhatsApp:
			m.Template = &Template{
				Name: "order_update", Language: "en_US", Params: []string{"Ada", "42"},
				HeaderParams: []string{"42"}, ButtonURLParams: []string{"track/42"},
			}
		case Telegram:
			m.Template = &Template{Text: "Your order shipped", Buttons: []Button{
				{Text: "Track", URL: "https://example.com/t/42"},
				{Text: "Help", Payload: "help"},
			}}
		default:
			m.Template = &Template{Elements: []Element{{
				Title: "Order 42", Subtitle: "Shipped", ImageURL: "https://cdn.example.com/42.jpg",
				Buttons: []Button{{Text: "Track", URL: "https://example.com/t/42"}, {Text: "Help", Payload: "help"}},
			}}}
		}
	}
	return m
}

func TestMessageValidate(t *testing.T) {
	t.Parallel()

	t.Run("EveryTypeValid", func(t *testing.T) {
		t.Parallel()
		for _, ch := range Channels {
			for _, k := range Kinds {
				require.NoError(t, newMessage(ch, k).Validate(), TypeName(ch, k))
			}
		}
	})

	t.Run("Nil", func(t *testing.T) {
		t.Parallel()
		var m *Message
		requireField(t, m.Validate(), "message", "")
	})

	var (
		cards = func(n int) []Element {
			e := make([]Element, n)
			for i := range e {
				e[i] = Element{Title: fmt.Sprintf("Card %d", i)}
			}
			return e
		}
		nb         = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		farOffset  = time.FixedZone("", -2*3600)
		afterMax   = time.Date(9999, 12, 31, 23, 0, 0, 0, farOffset) // year 10000 in UTC
		httpURL    = "http://cdn.example.com/a.jpg"
		notUTF8    = "ab\xffcd"
		runes      = func(n int) string { return strings.Repeat("é", n) }
		longDigits = strings.Repeat("1", 16)
	)

	tests := []struct {
		name   string
		ch     Channel // defaults to WhatsApp
		kind   Kind    // defaults to KindText
		edit   func(m *Message)
		field  string // "" when valid
		reason string // a substring of the reason, when it matters
	}{
		// id
		{name: "IDMissing", edit: func(m *Message) { m.ID = "" }, field: "id", reason: "required"},
		{name: "IDBlank", edit: func(m *Message) { m.ID = "  \t" }, field: "id", reason: "required"},
		{name: "IDPadded", edit: func(m *Message) { m.ID = "  msg-1 " }},
		{name: "IDInnerSpace", edit: func(m *Message) { m.ID = "msg 1" }, field: "id"},
		{name: "IDInnerNBSP", edit: func(m *Message) { m.ID = "msg\u00a01" }, field: "id"},
		{name: "IDControl", edit: func(m *Message) { m.ID = "msg\x001" }, field: "id"},
		{name: "IDNotUTF8", edit: func(m *Message) { m.ID = notUTF8 }, field: "id", reason: "UTF-8"},
		{name: "IDMaxLen", edit: func(m *Message) { m.ID = runes(200) }},
		{name: "IDTooLong", edit: func(m *Message) { m.ID = runes(201) }, field: "id", reason: "at most 200"},

		// channel
		{name: "ChannelMissing", edit: func(m *Message) { m.Channel = "" }, field: "channel"},
		{name: "ChannelUnknown", edit: func(m *Message) { m.Channel = "sms" }, field: "channel", reason: "whatsapp, telegram, instagram or messenger"},
		{name: "ChannelMixedCase", edit: func(m *Message) { m.Channel = "WhatsApp" }},
		{name: "ChannelPadded", edit: func(m *Message) { m.Channel = " TELEGRAM " }},

		// kind and content form
		{name: "KindMissing", edit: func(m *Message) { m.Kind = "" }, field: "kind"},
		{name: "KindUnknown", edit: func(m *Message) { m.Kind = "sticker" }, field: "kind", reason: "text, media or template"},
		{name: "KindUpperCase", edit: func(m *Message) { m.Kind = "TEXT" }},
		{name: "TextAndMedia", edit: func(m *Message) { m.Media = &Media{} }, field: "kind", reason: "exactly one of text, media or template"},
		{name: "TextAndTemplate", edit: func(m *Message) { m.Template = &Template{} }, field: "kind", reason: "exactly one of text, media or template"},
		{name: "MediaAndTemplate", kind: KindMedia, edit: func(m *Message) { m.Template = &Template{} }, field: "kind"},
		{name: "KindTextCarriesMedia", edit: func(m *Message) { m.Text = ""; m.Media = newMessage(WhatsApp, KindMedia).Media }, field: "kind", reason: "is text but the message carries media"},
		{name: "KindMediaCarriesText", kind: KindMedia, edit: func(m *Message) { m.Media = nil; m.Text = "hi" }, field: "kind"},
		{name: "KindTemplateCarriesText", kind: KindTemplate, edit: func(m *Message) { m.Template = nil; m.Text = "hi" }, field: "kind"},
		{name: "TextMissing", edit: func(m *Message) { m.Text = "" }, field: "text", reason: "required"},
		{name: "MediaMissing", kind: KindMedia, edit: func(m *Message) { m.Media = nil }, field: "media", reason: "required"},
		{name: "TemplateMissing", kind: KindTemplate, edit: func(m *Message) { m.Template = nil }, field: "template", reason: "required"},

		// template.category
		{name: "CategoryMarketing", kind: KindTemplate, edit: func(m *Message) { m.Template.Category = Marketing }},
		{name: "CategoryAuthentication", kind: KindTemplate, edit: func(m *Message) { m.Template.Category = Authentication }},
		{name: "CategoryMixedCase", kind: KindTemplate, edit: func(m *Message) { m.Template.Category = " Marketing " }},
		{name: "CategoryOnTelegram", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Category = Marketing }},
		{name: "CategoryUnknown", kind: KindTemplate, edit: func(m *Message) { m.Template.Category = "promo" }, field: "template.category", reason: "marketing, utility or authentication"},
		{name: "CategoryOnText", edit: func(m *Message) { m.Template = &Template{Category: Marketing} }, field: "kind", reason: "exactly one of text, media or template"},

		// to
		{name: "ToMissing", edit: func(m *Message) { m.To = Recipient{} }, field: "to", reason: "contact_id, client_id or phone"},
		{name: "ToBlank", edit: func(m *Message) { m.To = Recipient{ContactID: "  "} }, field: "to"},
		{name: "ToContactAndPhone", edit: func(m *Message) { m.To.Phone = "6598765432" }, field: "to"},
		{name: "ToContactAndClient", edit: func(m *Message) { m.To.ClientID = "client-1" }, field: "to"},
		{name: "ToAllThree", edit: func(m *Message) { m.To = Recipient{ContactID: "a", ClientID: "b", Phone: "6598765432"} }, field: "to"},
		{name: "ToNameOnly", edit: func(m *Message) { m.To = Recipient{Name: "Ada"} }, field: "to"},
		{name: "ContactIDPadded", edit: func(m *Message) { m.To.ContactID = " contact-1 " }},
		{name: "ContactIDSpace", edit: func(m *Message) { m.To.ContactID = "contact 1" }, field: "to.contact_id"},
		{name: "ContactIDControl", edit: func(m *Message) { m.To.ContactID = "c\x7f1" }, field: "to.contact_id"},
		{name: "ContactIDMaxLen", edit: func(m *Message) { m.To.ContactID = runes(200) }},
		{name: "ContactIDTooLong", edit: func(m *Message) { m.To.ContactID = runes(201) }, field: "to.contact_id"},
		{name: "ClientID", edit: func(m *Message) { m.To = Recipient{ClientID: "client-1"} }},
		{name: "ClientIDSpace", edit: func(m *Message) { m.To = Recipient{ClientID: "client\t1"} }, field: "to.client_id"},
		{name: "ClientIDMaxLen", edit: func(m *Message) { m.To = Recipient{ClientID: runes(200)} }},
		{name: "ClientIDTooLong", edit: func(m *Message) { m.To = Recipient{ClientID: runes(201)} }, field: "to.client_id"},
		{name: "Phone", edit: func(m *Message) { m.To = Recipient{Phone: "+65 9876-5432"} }},
		{name: "PhoneLetters", edit: func(m *Message) { m.To = Recipient{Phone: "+65 CALL-ME"} }, field: "to.phone"},
		{name: "PhoneTooShort", edit: func(m *Message) { m.To = Recipient{Phone: "+1234567"} }, field: "to.phone", reason: "must be 8 to 15 digits with country code"},
		{name: "PhoneTooLong", edit: func(m *Message) { m.To = Recipient{Phone: longDigits} }, field: "to.phone", reason: "must be 8 to 15 digits with country code"},
		{name: "PhoneNational", edit: func(m *Message) { m.To = Recipient{Phone: "09876 543210"} }, field: "to.phone", reason: "country code"},
		{name: "NameWithPhone", edit: func(m *Message) { m.To = Recipient{Phone: "6598765432", Name: "Ada Lovelace"} }},
		{name: "NameWithContact", edit: func(m *Message) { m.To.Name = "Ada" }, field: "to.name", reason: "only used with phone"},
		{name: "NameWithClient", edit: func(m *Message) { m.To = Recipient{ClientID: "client-1", Name: "Ada"} }, field: "to.name"},
		{name: "NameMaxLen", edit: func(m *Message) { m.To = Recipient{Phone: "6598765432", Name: runes(256)} }},
		{name: "NameTooLong", edit: func(m *Message) { m.To = Recipient{Phone: "6598765432", Name: runes(257)} }, field: "to.name"},
		{name: "NameControl", edit: func(m *Message) { m.To = Recipient{Phone: "6598765432", Name: "Ada\nLovelace"} }, field: "to.name"},
		{name: "NameNotUTF8", edit: func(m *Message) { m.To = Recipient{Phone: "6598765432", Name: notUTF8} }, field: "to.name"},

		// text
		{name: "TextBlank", edit: func(m *Message) { m.Text = " \n\t" }, field: "text", reason: "blank"},
		{name: "TextMaxLen", edit: func(m *Message) { m.Text = runes(MaxTextLen) }},
		{name: "TextTooLong", edit: func(m *Message) { m.Text = runes(MaxTextLen + 1) }, field: "text", reason: "at most 4096"},
		{name: "TextNotUTF8", edit: func(m *Message) { m.Text = notUTF8 }, field: "text", reason: "UTF-8"},
		{name: "TextMultiline", edit: func(m *Message) { m.Text = "  Dear Ada,\n\n\tthanks!" }},

		// media
		{name: "MediaURLMissing", kind: KindMedia, edit: func(m *Message) { m.Media.URL = "" }, field: "media.url", reason: "required"},
		{name: "MediaURLHTTP", kind: KindMedia, edit: func(m *Message) { m.Media.URL = httpURL }, field: "media.url", reason: "must be an https URL"},
		{name: "MediaURLFTP", kind: KindMedia, edit: func(m *Message) { m.Media.URL = "ftp://cdn.example.com/a.jpg" }, field: "media.url"},
		{name: "MediaURLRelative", kind: KindMedia, edit: func(m *Message) { m.Media.URL = "/a.jpg" }, field: "media.url"},
		{name: "MediaURLNoHost", kind: KindMedia, edit: func(m *Message) { m.Media.URL = "https:///a.jpg" }, field: "media.url"},
		{name: "MediaURLOpaque", kind: KindMedia, edit: func(m *Message) { m.Media.URL = "https:a.jpg" }, field: "media.url"},
		{name: "MediaURLUnparsable", kind: KindMedia, edit: func(m *Message) { m.Media.URL = "https://exa mple.com/a.jpg" }, field: "media.url"},
		{name: "MediaURLUpperScheme", kind: KindMedia, edit: func(m *Message) { m.Media.URL = "HTTPS://cdn.example.com/a.jpg" }},
		{name: "MediaURLPadded", kind: KindMedia, edit: func(m *Message) { m.Media.URL = " https://cdn.example.com/a.jpg " }},
		{name: "MimeTypeMissing", kind: KindMedia, edit: func(m *Message) { m.Media.MimeType = "" }, field: "media.mime_type", reason: "required"},
		{name: "MimeTypeNoSubtype", kind: KindMedia, edit: func(m *Message) { m.Media.MimeType = "image" }, field: "media.mime_type"},
		{name: "MimeTypeEmptySubtype", kind: KindMedia, edit: func(m *Message) { m.Media.MimeType = "image/" }, field: "media.mime_type"},
		{name: "MimeTypeEmptyType", kind: KindMedia, edit: func(m *Message) { m.Media.MimeType = "/jpeg" }, field: "media.mime_type"},
		{name: "MimeTypeWildcard", kind: KindMedia, edit: func(m *Message) { m.Media.MimeType = "image/*" }, field: "media.mime_type"},
		{name: "MimeTypeTwoSlashes", kind: KindMedia, edit: func(m *Message) { m.Media.MimeType = "image/jpeg/x" }, field: "media.mime_type"},
		{name: "MimeTypeSuffix", kind: KindMedia, edit: func(m *Message) { m.Media.MimeType = "image/svg+xml" }},
		{name: "MimeTypeParams", kind: KindMedia, edit: func(m *Message) { m.Media.MimeType = "audio/ogg; codecs=opus" }},
		{name: "CaptionWhatsAppMaxLen", kind: KindMedia, edit: func(m *Message) { m.Media.Caption = runes(MaxTextLen) }},
		{name: "CaptionWhatsAppTooLong", kind: KindMedia, edit: func(m *Message) { m.Media.Caption = runes(MaxTextLen + 1) }, field: "media.caption"},
		{name: "CaptionTelegramMaxLen", ch: Telegram, kind: KindMedia, edit: func(m *Message) { m.Media.Caption = runes(MaxTelegramCaptionLen) }},
		{name: "CaptionTelegramTooLong", ch: Telegram, kind: KindMedia, edit: func(m *Message) { m.Media.Caption = runes(MaxTelegramCaptionLen + 1) }, field: "media.caption", reason: "at most 1024"},
		{name: "CaptionInstagram", ch: Instagram, kind: KindMedia, edit: func(m *Message) { m.Media.Caption = "hi" }, field: "media.caption", reason: "not supported on instagram"},
		{name: "CaptionMessenger", ch: Messenger, kind: KindMedia, edit: func(m *Message) { m.Media.Caption = "hi" }, field: "media.caption", reason: "not supported on messenger"},
		{name: "CaptionNotUTF8", kind: KindMedia, edit: func(m *Message) { m.Media.Caption = notUTF8 }, field: "media.caption"},
		{name: "CaptionBlank", kind: KindMedia, edit: func(m *Message) { m.Media.Caption = "  " }, field: "media.caption"},

		// WhatsApp template
		{name: "WATemplateMinimal", kind: KindTemplate, edit: func(m *Message) { m.Template = &Template{Name: "hello_world", Language: "en"} }},
		{name: "WANameMissing", kind: KindTemplate, edit: func(m *Message) { m.Template.Name = "" }, field: "template.name", reason: "required"},
		{name: "WANameMaxLen", kind: KindTemplate, edit: func(m *Message) { m.Template.Name = strings.Repeat("a", 512) }},
		{name: "WANameTooLong", kind: KindTemplate, edit: func(m *Message) { m.Template.Name = strings.Repeat("a", 513) }, field: "template.name"},
		{name: "WALanguageMissing", kind: KindTemplate, edit: func(m *Message) { m.Template.Language = "" }, field: "template.language", reason: "required"},
		{name: "WALanguageShort", kind: KindTemplate, edit: func(m *Message) { m.Template.Language = "en" }},
		{name: "WALanguageThreeLetters", kind: KindTemplate, edit: func(m *Message) { m.Template.Language = "fil" }},
		{name: "WALanguageWord", kind: KindTemplate, edit: func(m *Message) { m.Template.Language = "english" }, field: "template.language"},
		{name: "WALanguageHyphen", kind: KindTemplate, edit: func(m *Message) { m.Template.Language = "en-US" }, field: "template.language"},
		{name: "WALanguageUpper", kind: KindTemplate, edit: func(m *Message) { m.Template.Language = "EN" }, field: "template.language"},
		{name: "WALanguageLowerRegion", kind: KindTemplate, edit: func(m *Message) { m.Template.Language = "en_us" }, field: "template.language"},
		{name: "WAParamsNone", kind: KindTemplate, edit: func(m *Message) { m.Template.Params = nil }},
		{name: "WAParamEmpty", kind: KindTemplate, edit: func(m *Message) { m.Template.Params[1] = "" }, field: "template.params[1]", reason: "required"},
		{name: "WAParamBlank", kind: KindTemplate, edit: func(m *Message) { m.Template.Params[0] = "   " }, field: "template.params[0]"},
		{name: "WAParamMaxLen", kind: KindTemplate, edit: func(m *Message) { m.Template.Params[0] = runes(1024) }},
		{name: "WAParamTooLong", kind: KindTemplate, edit: func(m *Message) { m.Template.Params[0] = runes(1025) }, field: "template.params[0]"},
		{name: "WAParamNewLine", kind: KindTemplate, edit: func(m *Message) { m.Template.Params[0] = "a\nb" }, field: "template.params[0]", reason: "new lines"},
		{name: "WAParamTab", kind: KindTemplate, edit: func(m *Message) { m.Template.Params[0] = "a\tb" }, field: "template.params[0]"},
		{name: "WAParamFourSpaces", kind: KindTemplate, edit: func(m *Message) { m.Template.Params[0] = "a    b" }},
		{name: "WAParamFiveSpaces", kind: KindTemplate, edit: func(m *Message) { m.Template.Params[0] = "a     b" }, field: "template.params[0]"},
		{name: "WAHeaderMediaURL", kind: KindTemplate, edit: func(m *Message) {
			m.Template.HeaderParams = nil
			m.Template.HeaderMediaURL = "https://cdn.example.com/h.png"
		}},
		{name: "WAHeaderMediaURLHTTP", kind: KindTemplate, edit: func(m *Message) { m.Template.HeaderParams = nil; m.Template.HeaderMediaURL = httpURL }, field: "template.header_media_url", reason: "https"},
		{name: "WAHeaderMediaAndParams", kind: KindTemplate, edit: func(m *Message) { m.Template.HeaderMediaURL = "https://cdn.example.com/h.png" }, field: "template.header_params"},
		{name: "WAHeaderParamEmpty", kind: KindTemplate, edit: func(m *Message) { m.Template.HeaderParams = []string{""} }, field: "template.header_params[0]"},
		{name: "WAButtonURLParamEmpty", kind: KindTemplate, edit: func(m *Message) { m.Template.ButtonURLParams = []string{"a", " "} }, field: "template.button_url_params[1]"},
		{name: "WATextNotUsed", kind: KindTemplate, edit: func(m *Message) { m.Template.Text = "hi" }, field: "template.text", reason: "not used on whatsapp"},
		{name: "WAButtonsNotUsed", kind: KindTemplate, edit: func(m *Message) { m.Template.Buttons = []Button{{Text: "b"}} }, field: "template.buttons"},
		{name: "WAElementsNotUsed", kind: KindTemplate, edit: func(m *Message) { m.Template.Elements = cards(1) }, field: "template.elements", reason: "not used on whatsapp"},
		{name: "WAEmptyListsIgnored", kind: KindTemplate, edit: func(m *Message) { m.Template.Elements = []Element{}; m.Template.Buttons = []Button{} }},

		// Telegram template
		{name: "TGTemplateMinimal", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template = &Template{Text: "hi"} }},
		{name: "TGTextMissing", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Text = "" }, field: "template.text", reason: "required"},
		{name: "TGTextBlank", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Text = "\n" }, field: "template.text"},
		{name: "TGTextMaxLen", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Text = runes(MaxTextLen) }},
		{name: "TGTextTooLong", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Text = runes(MaxTextLen + 1) }, field: "template.text"},
		{name: "TGNameWithoutText", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template = &Template{Name: "hello_world"} }, field: "template.name", reason: "not used on telegram"},
		{name: "TGNameWithText", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Name = "hello_world" }, field: "template.name"},
		{name: "TGLanguageNotUsed", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Language = "en" }, field: "template.language"},
		{name: "TGParamsNotUsed", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Params = []string{"a"} }, field: "template.params"},
		{name: "TGHeaderMediaNotUsed", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.HeaderMediaURL = "https://x.example/h.png" }, field: "template.header_media_url"},
		{name: "TGHeaderParamsNotUsed", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.HeaderParams = []string{"a"} }, field: "template.header_params"},
		{name: "TGButtonURLParamsNotUsed", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.ButtonURLParams = []string{"a"} }, field: "template.button_url_params"},
		{name: "TGElementsNotUsed", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements = cards(1) }, field: "template.elements"},
		{name: "TGButtonTextMissing", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Buttons[0].Text = "" }, field: "template.buttons[0].text"},
		{name: "TGButtonURLHTTP", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Buttons[1].URL = httpURL }, field: "template.buttons[1].url", reason: "must be an https URL"},
		{name: "TGButtonPayloadNotUTF8", ch: Telegram, kind: KindTemplate, edit: func(m *Message) { m.Template.Buttons[1].Payload = notUTF8 }, field: "template.buttons[1].payload"},

		// Instagram and Messenger templates
		{name: "IGElementsMissing", ch: Instagram, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements = nil }, field: "template.elements", reason: "required"},
		{name: "IGElementsEmpty", ch: Instagram, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements = []Element{} }, field: "template.elements"},
		{name: "IGElementsMax", ch: Instagram, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements = cards(10) }},
		{name: "IGElementsTooMany", ch: Instagram, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements = cards(11) }, field: "template.elements", reason: "1 to 10"},
		{name: "MSElementsMissing", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template = &Template{} }, field: "template.elements"},
		{name: "MSTitleMissing", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements[0].Title = "" }, field: "template.elements[0].title", reason: "required"},
		{name: "MSTitleMaxLen", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements[0].Title = runes(80) }},
		{name: "MSTitleTooLong", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements[0].Title = runes(81) }, field: "template.elements[0].title"},
		{name: "MSSecondTitleMissing", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements = append(m.Template.Elements, Element{}) }, field: "template.elements[1].title"},
		{name: "MSSubtitleMaxLen", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements[0].Subtitle = runes(80) }},
		{name: "MSSubtitleTooLong", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements[0].Subtitle = runes(81) }, field: "template.elements[0].subtitle"},
		{name: "MSImageURLHTTP", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements[0].ImageURL = httpURL }, field: "template.elements[0].image_url", reason: "must be an https URL"},
		{name: "MSButtonsMax", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements[0].Buttons = buttons(3) }},
		{name: "MSButtonsTooMany", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements[0].Buttons = buttons(4) }, field: "template.elements[0].buttons", reason: "at most 3"},
		{name: "MSButtonTextMissing", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements[0].Buttons[1].Text = " " }, field: "template.elements[0].buttons[1].text"},
		{name: "MSButtonURLHTTP", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Elements[0].Buttons[0].URL = httpURL }, field: "template.elements[0].buttons[0].url"},
		{name: "IGTextNotUsed", ch: Instagram, kind: KindTemplate, edit: func(m *Message) { m.Template.Text = "hi" }, field: "template.text", reason: "not used on instagram"},
		{name: "IGButtonsNotUsed", ch: Instagram, kind: KindTemplate, edit: func(m *Message) { m.Template.Buttons = []Button{{Text: "b"}} }, field: "template.buttons"},
		{name: "MSNameNotUsed", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Name = "hello_world" }, field: "template.name", reason: "not used on messenger"},
		{name: "MSParamsNotUsed", ch: Messenger, kind: KindTemplate, edit: func(m *Message) { m.Template.Params = []string{"a"} }, field: "template.params"},

		// campaign
		{name: "Campaign", edit: func(m *Message) { m.Campaign = "spring-sale" }},
		{name: "CampaignBlank", edit: func(m *Message) { m.Campaign = "  " }},
		{name: "CampaignSpace", edit: func(m *Message) { m.Campaign = "spring sale" }, field: "campaign"},
		{name: "CampaignMaxLen", edit: func(m *Message) { m.Campaign = runes(200) }},
		{name: "CampaignTooLong", edit: func(m *Message) { m.Campaign = runes(201) }, field: "campaign"},

		// times
		{name: "NotBeforeOnly", edit: func(m *Message) { m.NotBefore = nb }},
		{name: "ExpiresAtOnly", edit: func(m *Message) { m.ExpiresAt = nb }},
		{name: "ExpiresAfterNotBefore", edit: func(m *Message) { m.NotBefore = nb; m.ExpiresAt = nb.Add(time.Nanosecond) }},
		{name: "ExpiresAtNotBefore", edit: func(m *Message) { m.NotBefore = nb; m.ExpiresAt = nb }, field: "expires_at", reason: "after not_before"},
		{name: "ExpiresBeforeNotBefore", edit: func(m *Message) { m.NotBefore = nb; m.ExpiresAt = nb.Add(-time.Hour) }, field: "expires_at"},
		{name: "ExpiresAfterNotBeforeOtherZone", edit: func(m *Message) { m.NotBefore = nb; m.ExpiresAt = nb.Add(time.Second).In(farOffset) }},
		{name: "NotBeforeOutOfRange", edit: func(m *Message) { m.NotBefore = afterMax }, field: "not_before"},
		{name: "ExpiresAtOutOfRange", edit: func(m *Message) { m.ExpiresAt = afterMax }, field: "expires_at"},
		{name: "CreatedAtOutOfRange", edit: func(m *Message) { m.CreatedAt = afterMax }, field: "created_at"},

		// order: the first problem wins
		{name: "FirstProblemID", edit: func(m *Message) { m.ID = ""; m.Channel = "sms"; m.To = Recipient{} }, field: "id"},
		{name: "FirstProblemKindBeforeTo", edit: func(m *Message) { m.Media = &Media{}; m.To = Recipient{} }, field: "kind"},
		{name: "FirstProblemToBeforeText", edit: func(m *Message) { m.Text = " "; m.To = Recipient{} }, field: "to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ch, kind := tt.ch, tt.kind
			if ch == "" {
				ch = WhatsApp
			}
			if kind == "" {
				kind = KindText
			}
			m := newMessage(ch, kind)
			tt.edit(m)
			err := m.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			requireField(t, err, tt.field, tt.reason)
		})
	}
}

func buttons(n int) []Button {
	b := make([]Button, n)
	for i := range b {
		b[i] = Button{Text: fmt.Sprintf("Button %d", i), Payload: "p"}
	}
	return b
}

// requireField requires err to be a *ValidationError for field whose reason
// contains reason.
func requireField(t *testing.T, err error, field, reason string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrInvalid)
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, field, verr.Field, "error: %v", err)
	require.Contains(t, verr.Reason, reason)
}

func TestMessageValidateNormalizes(t *testing.T) {
	t.Parallel()

	zone := time.FixedZone("SGT", 8*3600)
	m := &Message{
		ID:       "  msg-1\n",
		Channel:  " WhatsApp",
		Kind:     "Template ",
		To:       Recipient{Phone: " +65 (9876) 54-32 ", Name: " Ada "},
		Template: &Template{Name: " order_update ", Language: " en ", Params: []string{}, HeaderMediaURL: " https://x.example/h.png ", Buttons: []Button{}, Category: " MARKETING"},
		Campaign: " spring-sale ",

		NotBefore: time.Date(2026, 5, 1, 17, 0, 0, 0, zone),
		ExpiresAt: time.Date(2026, 5, 2, 17, 0, 0, 0, zone),
		CreatedAt: time.Date(1, 1, 1, 0, 0, 0, 0, zone).Add(8 * time.Hour), // zero instant, not UTC
	}
	require.False(t, m.CreatedAt == time.Time{})
	require.NoError(t, m.Validate())

	want := &Message{
		ID:        "msg-1",
		Channel:   WhatsApp,
		Kind:      KindTemplate,
		To:        Recipient{Phone: "6598765432", Name: "Ada"},
		Template:  &Template{Name: "order_update", Language: "en", HeaderMediaURL: "https://x.example/h.png", Category: Marketing},
		Campaign:  "spring-sale",
		NotBefore: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC),
		ExpiresAt: time.Date(2026, 5, 2, 9, 0, 0, 0, time.UTC),
	}
	require.Equal(t, want, m)

	t.Run("Idempotent", func(t *testing.T) {
		require.NoError(t, m.Validate())
		require.Equal(t, want, m)
	})

	t.Run("ContentKeptAsIs", func(t *testing.T) {
		t.Parallel()
		m := newMessage(Telegram, KindMedia)
		m.Media.Caption = "  spaced \n"
		require.NoError(t, m.Validate())
		require.Equal(t, "  spaced \n", m.Media.Caption)

		m = newMessage(WhatsApp, KindText)
		m.Text = " hi "
		require.NoError(t, m.Validate())
		require.Equal(t, " hi ", m.Text)
	})
}

func TestParseChannel(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want Channel
	}{
		{"whatsapp", WhatsApp},
		{"WhatsApp", WhatsApp},
		{"whatsApp", WhatsApp},
		{" TELEGRAM\t", Telegram},
		{"Instagram", Instagram},
		{"messenger", Messenger},
		{"", ""},
		{"sms", ""},
		{"whats app", ""},
		{"whatsapp:", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			t.Parallel()
			got, err := ParseChannel(tt.in)
			if tt.want == "" {
				requireField(t, err, "channel", "whatsapp, telegram, instagram or messenger")
				require.False(t, Channel(tt.in).Valid())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.True(t, got.Valid())
		})
	}

	t.Run("ValidIsExact", func(t *testing.T) {
		t.Parallel()
		for _, c := range Channels {
			require.True(t, c.Valid())
		}
		require.False(t, Channel("WhatsApp").Valid())
		require.False(t, Channel(" whatsapp").Valid())
	})
}

func TestParseKind(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want Kind
	}{
		{"text", KindText},
		{"Media", KindMedia},
		{" TEMPLATE ", KindTemplate},
		{"", ""},
		{"image", ""},
		{"tex", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			t.Parallel()
			got, err := ParseKind(tt.in)
			if tt.want == "" {
				requireField(t, err, "kind", "text, media or template")
				require.False(t, Kind(tt.in).Valid())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.True(t, got.Valid())
		})
	}

	t.Run("ValidIsExact", func(t *testing.T) {
		t.Parallel()
		for _, k := range Kinds {
			require.True(t, k.Valid())
		}
		require.False(t, Kind("Text").Valid())
	})
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()

	const (
		badChars = "only a leading +"
		badLen   = "must be 8 to 15 digits with country code"
		national = "not 0"
	)
	tests := []struct {
		name   string
		in     string
		want   string
		reason string // when invalid
	}{
		{name: "Digits", in: "6598765432", want: "6598765432"},
		{name: "Plus", in: "+6598765432", want: "6598765432"},
		{name: "Spaces", in: "+65 9876 5432", want: "6598765432"},
		{name: "Dashes", in: "1-555-010-9999", want: "15550109999"},
		{name: "Dots", in: "44.20.7946.0958", want: "442079460958"},
		{name: "Parentheses", in: "+1 (555) 010-9999", want: "15550109999"},
		{name: "PlusInsideParentheses", in: "(+44) 20 7946 0958", want: "442079460958"},
		{name: "Padded", in: "  +65 9876 5432  ", want: "6598765432"},
		{name: "InternationalPrefix", in: "0044 20 7946 0958", want: "442079460958"},
		{name: "Min", in: "12345678", want: "12345678"},
		{name: "Max", in: "+123 456 789 012 345", want: "123456789012345"},
		{name: "Empty", in: "", reason: badLen},
		{name: "Punctuation", in: "+ ( ) - .", reason: badLen},
		{name: "TooShort", in: "+1234567", reason: badLen},
		{name: "TooShortAfterPrefix", in: "00 1234567", reason: badLen},
		{name: "TooLong", in: "1234567890123456", reason: badLen},
		{name: "NationalZero", in: "09876543210", reason: national},
		{name: "PrefixThenZero", in: "000 9876543210", reason: national},
		{name: "Letters", in: "+1 555 CALL NOW", reason: badChars},
		{name: "Extension", in: "+1 555 010 9999 x12", reason: badChars},
		{name: "PlusInside", in: "65+98765432", reason: badChars},
		{name: "TwoPluses", in: "++6598765432", reason: badChars},
		{name: "Slash", in: "65/98765432", reason: badChars},
		{name: "Tab", in: "65\t98765432", reason: badChars},
		{name: "UnicodeDigits", in: "٦٥٩٨٧٦٥٤٣٢", reason: badChars},
		{name: "FullwidthPlus", in: "＋6598765432", reason: badChars},
		{name: "NotUTF8", in: "6598765432\xff", reason: badChars},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizePhone(tt.in)
			if tt.reason != "" {
				requireField(t, err, "phone", tt.reason)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestValidationError(t *testing.T) {
	t.Parallel()

	err := error(&ValidationError{Field: "to.phone", Reason: "must be 8 to 15 digits with country code"})
	require.EqualError(t, err, "to.phone: must be 8 to 15 digits with country code")
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorIs(t, fmt.Errorf("enqueue: %w", err), ErrInvalid)
	require.NotErrorIs(t, err, errors.New("invalid message"))
}
