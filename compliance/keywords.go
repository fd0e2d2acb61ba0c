package compliance

import (
	"fmt"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Action is what an incoming message asks of the opt-out list.
type Action int

// The three actions.
const (
	// None: the message is not a keyword.
	None Action = iota
	// OptOut: take the sender off marketing.
	OptOut
	// OptIn: put the sender back.
	OptIn
)

// String returns "none", "opt_out" or "opt_in".
func (a Action) String() string {
	switch a {
	case OptOut:
		return "opt_out"
	case OptIn:
		return "opt_in"
	}
	return "none"
}

// DefaultOptOut and DefaultOptIn are the keywords of README "Compliance"
// (SENDQ_OPTOUT_KEYWORDS and SENDQ_OPTIN_KEYWORDS unset).
var (
	DefaultOptOut = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
		"PARAR", "BAJA", "ARRET", "ARRÊT", "SAIR"}
	DefaultOptIn = []string{"START", "UNSTOP", "SUBSCRIBE"}
)

// Keywords are the opt-out and opt-in keywords. The zero value matches
// nothing; use [DefaultKeywords] or [NewKeywords].
type Keywords struct {
	words map[string]Action // folded keyword → action
}

// DefaultKeywords returns the default keywords.
func DefaultKeywords() Keywords {
	k, err := NewKeywords(DefaultOptOut, DefaultOptIn)
	if err != nil {
		panic(err) // the defaults are valid; a test holds them so
	}
	return k
}

// NewKeywords returns the keywords given. A keyword is matched as a whole
// message, trimmed and case-folded, so that "Stop", " STOP\n" and "stop" are
// one keyword. An empty keyword, or one given as both opt-out and opt-in, is
// an error naming it.
func NewKeywords(optOut, optIn []string) (Keywords, error) {
	k := Keywords{words: make(map[string]Action, len(optOut)+len(optIn))}
	for _, list := range []struct {
		words []string
		a     Action
	}{{optOut, OptOut}, {optIn, OptIn}} {
		for _, w := range list.words {
			f := fold(w)
			if f == "" {
				return Keywords{}, fmt.Errorf("keywords: an empty keyword")
			}
			if a, ok := k.words[f]; ok && a != list.a {
				return Keywords{}, fmt.Errorf("keywords: %q is both an opt-out and an opt-in keyword", w)
			}
			k.words[f] = list.a
		}
	}
	return k, nil
}

// ParseKeywordList reads a comma-separated list of keywords, as
// SENDQ_OPTOUT_KEYWORDS and SENDQ_OPTIN_KEYWORDS give them ("STOP, Parar,
// ARRÊT"). Spaces around each are dropped; an empty item is an error naming
// the value.
func ParseKeywordList(s string) ([]string, error) {
	var words []string
	for w := range strings.SplitSeq(s, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			return nil, fmt.Errorf("keywords: want comma-separated words, got %q", s)
		}
		words = append(words, w)
	}
	return words, nil
}

// Match returns what the text of an incoming message asks: [OptOut] or
// [OptIn] when the whole text, trimmed and case-folded (Unicode: "ARRÊT",
// "arrêt" and "Arre\u0302t" are one), is a keyword; [None] otherwise, for any
// text that merely contains one ("please stop").
func (k Keywords) Match(text string) Action {
	text = strings.TrimSpace(text)
	if len(k.words) == 0 || len(text) > maxKeywordText {
		return None
	}
	return k.words[fold(text)]
}

// maxKeywordText skips folding long messages: no keyword is that long.
const maxKeywordText = 256

// fold is the form keywords are compared in: trimmed, case-folded and
// composed (NFC). A Caser is not safe for concurrent use: one per call.
func fold(s string) string {
	return norm.NFC.String(cases.Fold().String(strings.TrimSpace(s)))
}
