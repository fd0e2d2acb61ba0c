// Package rowpack packs a campaign's rows compactly: what every row of a start
// shares (the channel, the content, the defaults) is the start's base message,
// stored once, and a row keeps only what is its own — the recipient, the name
// and the template parameters. A row that differs from the base in anything
// else (a per-row channel, template or text) keeps its whole message.
//
// A chunk is a run of packed rows of one base:
//
//	uvarint base index, uvarint row count, rows…
//
// and a row is a flags byte, then length-prefixed strings: the recipient's
// value; the name (flag name); the parameter count and parameters (flag
// params); or, with flag whole, the row's message as JSON instead of all of
// those.
package rowpack

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/sendq/sendq/tasks"
)

// MemberSize is the length of a row's member: the digest that names its
// recipient on its channel within the campaign.
const MemberSize = 10

// Member is the digest of a row's recipient on its channel: the same
// recipient on the same channel always has the same one, so that a campaign
// never holds it twice.
func Member(ch tasks.Channel, to tasks.Recipient) [MemberSize]byte {
	sum := sha256.Sum256([]byte(string(ch) + "\x00" + to.Key()))
	return [MemberSize]byte(sum[:MemberSize])
}

// MessageID is the id of campaign's message to the recipient whose member is
// m: "<campaign>:<20 hex digits>".
func MessageID(campaign string, m [MemberSize]byte) string {
	return campaign + ":" + hex.EncodeToString(m[:])
}

// ParseMessageID splits a campaign message's id into its campaign and member;
// ok is false for any other id, one in upper-case hex among them (message
// ids are case-sensitive: only MessageID's own spelling names the row).
func ParseMessageID(id string) (campaign string, m [MemberSize]byte, ok bool) {
	const n = 2*MemberSize + 1
	if len(id) <= n || id[len(id)-n] != ':' {
		return "", m, false
	}
	digits := id[len(id)-n+1:]
	for i := range len(digits) {
		if c := digits[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", m, false
		}
	}
	if _, err := hex.Decode(m[:], []byte(digits)); err != nil {
		return "", m, false
	}
	return id[:len(id)-n], m, true
}

const (
	kindPhone = iota
	kindContact
	kindClient

	flagName   = 1 << 2
	flagParams = 1 << 3
	flagWhole  = 1 << 4
)

// Base is what the rows of one start share: their message with no
// recipient and no template parameters.
func Base(m tasks.Message) tasks.Message {
	m.ID, m.To = "", tasks.Recipient{}
	if m.Template != nil {
		t := *m.Template
		t.Params = nil
		m.Template = &t
	}
	return m
}

// Writer packs rows against a base into chunks.
type Writer struct {
	base  tasks.Message
	index int
	buf   []byte
	rows  int
	whole bool
}

// NewWriter packs rows of base (see Base), which is stored as the
// campaign's base number index.
func NewWriter(base tasks.Message, index int) *Writer {
	return &Writer{base: Base(base), index: index}
}

// Add packs m, which must be valid and carry the base's campaign and
// account.
func (w *Writer) Add(m *tasks.Message) error {
	w.rows++
	if !sameShape(&w.base, m) {
		whole := *m
		whole.ID = ""
		data, err := json.Marshal(&whole)
		if err != nil {
			return fmt.Errorf("rowpack: %w", err)
		}
		w.whole = true
		w.buf = append(w.buf, flagWhole)
		w.buf = appendBytes(w.buf, data)
		return nil
	}
	flags, value := byte(kindPhone), m.To.Phone
	switch {
	case m.To.ContactID != "":
		flags, value = kindContact, m.To.ContactID
	case m.To.ClientID != "":
		flags, value = kindClient, m.To.ClientID
	}
	var params []string
	if m.Template != nil {
		params = m.Template.Params
	}
	if m.To.Name != "" {
		flags |= flagName
	}
	if len(params) > 0 {
		flags |= flagParams
	}
	w.buf = append(w.buf, flags)
	w.buf = appendString(w.buf, value)
	if m.To.Name != "" {
		w.buf = appendString(w.buf, m.To.Name)
	}
	if len(params) > 0 {
		w.buf = binary.AppendUvarint(w.buf, uint64(len(params)))
		for _, p := range params {
			w.buf = appendString(w.buf, p)
		}
	}
	return nil
}

// Whole reports whether a row of the chunk so far differs from the base in
// more than its own parts (and so is kept whole).
func (w *Writer) Whole() bool { return w.whole }

// Rows is how many rows the chunk holds so far.
func (w *Writer) Rows() int { return w.rows }

// Size is the chunk's size so far, in bytes.
func (w *Writer) Size() int { return len(w.buf) + 2*binary.MaxVarintLen32 }

// Chunk returns the packed chunk and starts the next one.
func (w *Writer) Chunk() []byte {
	out := binary.AppendUvarint(nil, uint64(w.index))
	out = binary.AppendUvarint(out, uint64(w.rows))
	out = append(out, w.buf...)
	w.buf, w.rows, w.whole = w.buf[:0], 0, false
	return out
}

// sameShape reports whether m is base but for its recipient and template
// parameters (and the id, campaign and account, which are the caller's).
func sameShape(base, m *tasks.Message) bool {
	if m.Channel != base.Channel || m.Kind != base.Kind || m.Text != base.Text ||
		!m.NotBefore.Equal(base.NotBefore) || !m.ExpiresAt.Equal(base.ExpiresAt) || !m.CreatedAt.Equal(base.CreatedAt) ||
		m.Campaign != base.Campaign || m.Account != base.Account {
		return false
	}
	if (m.Media == nil) != (base.Media == nil) || (m.Media != nil && *m.Media != *base.Media) {
		return false
	}
	if (m.Template == nil) != (base.Template == nil) {
		return false
	}
	if m.Template == nil {
		return true
	}
	a, b := *m.Template, *base.Template
	if a.Name != b.Name || a.Language != b.Language || a.HeaderMediaURL != b.HeaderMediaURL || a.Text != b.Text ||
		a.Category != b.Category || !slices.Equal(a.HeaderParams, b.HeaderParams) || !slices.Equal(a.ButtonURLParams, b.ButtonURLParams) {
		return false
	}
	if len(a.Buttons) > 0 || len(b.Buttons) > 0 || len(a.Elements) > 0 || len(b.Elements) > 0 {
		return reflect.DeepEqual(a.Buttons, b.Buttons) && reflect.DeepEqual(a.Elements, b.Elements)
	}
	return true
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ErrCorrupt is returned for a chunk that does not decode.
var ErrCorrupt = errors.New("rowpack: corrupt chunk")

// Header returns a chunk's base index and row count.
func Header(chunk []byte) (base, rows int, err error) {
	r := reader{b: chunk}
	base, rows = int(r.uvarint()), int(r.uvarint())
	return base, rows, r.err
}

// Decode unpacks a chunk's rows from the one numbered from (from 0) on, at
// most n of them, as messages of base: each is base with the row's own
// parts (its id is left for the caller).
func Decode(chunk []byte, base tasks.Message, from, n int) ([]tasks.Message, error) {
	r := reader{b: chunk}
	r.uvarint()
	rows := int(r.uvarint())
	var out []tasks.Message
	for i := 0; i < rows && len(out) < n && r.err == nil; i++ {
		m, err := r.row(&base, i >= from)
		if err != nil {
			return nil, err
		}
		if i >= from {
			out = append(out, m)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = ErrCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = ErrCorrupt
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

// row reads one row; when keep is false it only steps over it.
func (r *reader) row(base *tasks.Message, keep bool) (tasks.Message, error) {
	if len(r.b) == 0 {
		return tasks.Message{}, ErrCorrupt
	}
	flags := r.b[0]
	r.b = r.b[1:]
	if flags&flagWhole != 0 {
		data := r.bytes()
		var m tasks.Message
		if keep && r.err == nil {
			if err := json.Unmarshal(data, &m); err != nil {
				return m, fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
		}
		return m, r.err
	}
	value := r.bytes()
	var name []byte
	if flags&flagName != 0 {
		name = r.bytes()
	}
	var params []string
	if flags&flagParams != 0 {
		n := r.uvarint()
		if n > uint64(len(r.b)) {
			r.err = ErrCorrupt
		}
		for i := uint64(0); i < n && r.err == nil; i++ {
			p := r.bytes()
			if keep {
				params = append(params, string(p))
			}
		}
	}
	if !keep || r.err != nil {
		return tasks.Message{}, r.err
	}
	m := *base
	switch flags & 3 {
	case kindPhone:
		m.To.Phone = string(value)
	case kindContact:
		m.To.ContactID = string(value)
	case kindClient:
		m.To.ClientID = string(value)
	default:
		return m, ErrCorrupt
	}
	m.To.Name = string(name)
	if m.Template != nil {
		t := *m.Template
		t.Params = params
		m.Template = &t
	}
	return m, nil
}
