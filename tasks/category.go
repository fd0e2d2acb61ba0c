package tasks

import "strings"

// Category is a template's category, as Meta classifies templates. It
// decides which compliance rules apply: opt-outs and quiet hours hold for
// marketing templates only.
type Category string

// The three categories.
const (
	Marketing      Category = "marketing"
	Utility        Category = "utility"
	Authentication Category = "authentication"
)

// Categories lists every category, in a fixed order.
var Categories = []Category{Marketing, Utility, Authentication}

// ParseCategory returns the category named by s, ignoring case and
// surrounding spaces; the empty string is [Utility].
func ParseCategory(s string) (Category, error) {
	c := Category(strings.ToLower(strings.TrimSpace(s)))
	if c == "" {
		return Utility, nil
	}
	if !c.Valid() {
		return "", invalid("template.category", "must be marketing, utility or authentication")
	}
	return c, nil
}

// Valid reports whether c is one of the three categories (in lower case).
func (c Category) Valid() bool {
	switch c {
	case Marketing, Utility, Authentication:
		return true
	}
	return false
}

// Category returns the message's category: its template's, [Utility] for a
// template that names none. Text and media, which can only go inside the
// contact's window, are conversation, not marketing: they read as Utility.
func (m *Message) Category() Category {
	if m.Template == nil || m.Template.Category == "" {
		return Utility
	}
	return m.Template.Category
}

// IsMarketing reports whether m is a marketing template, the messages that
// opt-outs and quiet hours hold back.
func (m *Message) IsMarketing() bool { return m.Category() == Marketing }
