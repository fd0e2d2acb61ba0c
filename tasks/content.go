package tasks

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

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
	if t.Category != "" {
		c, err := ParseCategory(string(t.Category))
		if err != nil {
			return err
		}
		t.Category = c
	}

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

// checkParams checks WhatsApp template parameters. Meta refuses parameters with
// new lines, tabs or more than four consecutive spaces (error 132018).
func checkParams(field string, params []string) error {
	for i, p := range params {
		if checkText(field, p, maxParamLen) == nil && !strings.ContainsAny(p, "\n\r\t") && !strings.Contains(p, "     ") {
			continue
		}
		// Only a parameter that fails is named: a campaign's start checks
		// millions that pass.
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := checkText(f, p, maxParamLen); err != nil {
			return err
		}
		return invalid(f, "must not contain new lines, tabs or more than 4 consecutive spaces")
	}
	return nil
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
