package rowpack_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/rowpack"
	"github.com/sendq/sendq/tasks"
)

var created = time.Date(2026, 5, 1, 9, 30, 0, 123000000, time.UTC)

// base is a start's first row without its own parts: a marketing template
// of campaign spring.
func base() tasks.Message {
	return tasks.Message{Account: "acme", Campaign: "spring", Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
		Template:  &tasks.Template{Name: "sale", Language: "en", Category: tasks.Marketing, HeaderParams: []string{"May"}},
		CreatedAt: created, ExpiresAt: created.Add(48 * time.Hour)}
}

// row is base to recipient to, with params.
func row(to tasks.Recipient, params ...string) tasks.Message {
	m := base()
	m.ID = "spring:0123456789abcdef0123" // the caller's: never packed
	m.To = to
	t := *m.Template
	t.Params = params
	m.Template = &t
	return m
}

// with is row(to, "x") changed by change: a row that differs from the base.
func with(to tasks.Recipient, change func(m *tasks.Message)) tasks.Message {
	m := row(to, "x")
	change(&m)
	return m
}

func phone(p string) tasks.Recipient { return tasks.Recipient{Phone: p} }

// pack writes rows against base() as base number index and returns the
// chunk and whether the writer kept a row whole.
func pack(t testing.TB, index int, rows ...tasks.Message) ([]byte, bool) {
	t.Helper()
	w := rowpack.NewWriter(base(), index)
	for i := range rows {
		require.NoError(t, w.Add(&rows[i]))
	}
	require.Equal(t, len(rows), w.Rows())
	whole := w.Whole()
	return w.Chunk(), whole
}

// decoded is what Decode gives back of rows: the same messages without
// their ids.
func decoded(rows []tasks.Message) []tasks.Message {
	out := make([]tasks.Message, len(rows))
	for i, m := range rows {
		m.ID = ""
		out[i] = m
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rows  []tasks.Message
		whole bool // a row differs from the base in more than its own parts
	}{
		{"phone with name and params", []tasks.Message{row(tasks.Recipient{Phone: "6591234567", Name: "Ada"}, "10%", "May", "#1")}, false},
		{"phone alone", []tasks.Message{row(phone("6591234567"))}, false},
		{"phone with params, no name", []tasks.Message{row(phone("6591234567"), "a", "b")}, false},
		{"phone with name, no params", []tasks.Message{row(tasks.Recipient{Phone: "6591234567", Name: "Ada"})}, false},
		{"contact id", []tasks.Message{row(tasks.Recipient{ContactID: "64ab0c"})}, false},
		{"contact id with params", []tasks.Message{row(tasks.Recipient{ContactID: "64ab0c"}, "1", "2", "3")}, false},
		{"client id", []tasks.Message{row(tasks.Recipient{ClientID: "client-9"})}, false},
		{"client id with params", []tasks.Message{row(tasks.Recipient{ClientID: "client-9"}, "p")}, false},
		{"empty and unicode parameters kept", []tasks.Message{row(tasks.Recipient{Phone: "6591234567", Name: "Zoë 李"}, "", "€5", strings.Repeat("long ", 100))}, false},
		{"every kind in one chunk", []tasks.Message{
			row(tasks.Recipient{Phone: "6591234567", Name: "Ada"}, "a"),
			row(tasks.Recipient{ContactID: "c1"}),
			row(tasks.Recipient{ClientID: "l1"}, "b", "c"),
			row(phone("6591234568")),
		}, false},
		{"another channel", []tasks.Message{with(tasks.Recipient{ContactID: "c1"}, func(m *tasks.Message) {
			m.Channel, m.Kind, m.Template, m.Text = tasks.Telegram, tasks.KindText, nil, "hello"
		})}, true},
		{"another template", []tasks.Message{with(phone("6591234567"), func(m *tasks.Message) { m.Template.Name = "sale_2" })}, true},
		{"another language", []tasks.Message{with(phone("6591234567"), func(m *tasks.Message) { m.Template.Language = "id" })}, true},
		{"another category", []tasks.Message{with(phone("6591234567"), func(m *tasks.Message) { m.Template.Category = tasks.Utility })}, true},
		{"other header parameters", []tasks.Message{with(phone("6591234567"), func(m *tasks.Message) { m.Template.HeaderParams = []string{"June"} })}, true},
		{"text instead of template", []tasks.Message{with(phone("6591234567"), func(m *tasks.Message) {
			m.Kind, m.Template, m.Text = tasks.KindText, nil, "hi there"
		})}, true},
		{"media instead of template", []tasks.Message{with(phone("6591234567"), func(m *tasks.Message) {
			m.Kind, m.Template, m.Media = tasks.KindMedia, nil, &tasks.Media{URL: "https://x.example/a.png", MimeType: "image/png"}
		})}, true},
		{"another not_before", []tasks.Message{with(phone("6591234567"), func(m *tasks.Message) { m.NotBefore = created.Add(time.Hour) })}, true},
		{"another created_at", []tasks.Message{with(phone("6591234567"), func(m *tasks.Message) { m.CreatedAt = created.Add(time.Millisecond) })}, true},
		{"packed and whole rows mixed", []tasks.Message{
			row(tasks.Recipient{Phone: "6591234567", Name: "Ada"}, "a", "b", "c"),
			with(tasks.Recipient{ContactID: "c1"}, func(m *tasks.Message) { m.Template.Category = tasks.Utility }),
			row(tasks.Recipient{ClientID: "l1"}),
			with(phone("6591234568"), func(m *tasks.Message) { m.Kind, m.Template, m.Text = tasks.KindText, nil, "hi" }),
			row(phone("6591234569"), "z"),
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunk, whole := pack(t, 2, tc.rows...)
			require.Equal(t, tc.whole, whole)
			bi, n, err := rowpack.Header(chunk)
			require.NoError(t, err)
			require.Equal(t, 2, bi)
			require.Equal(t, len(tc.rows), n)
			got, err := rowpack.Decode(chunk, rowpack.Base(base()), 0, len(tc.rows))
			require.NoError(t, err)
			require.Equal(t, decoded(tc.rows), got)
		})
	}

	t.Run("the base as stored decodes the same", func(t *testing.T) {
		// The feeder reads the base back from Redis: Base of any row of the
		// start is the same base.
		rows := []tasks.Message{row(tasks.Recipient{Phone: "6591234567", Name: "Ada"}, "a", "b")}
		chunk, _ := pack(t, 0, rows...)
		got, err := rowpack.Decode(chunk, rowpack.Base(rows[0]), 0, 1)
		require.NoError(t, err)
		require.Equal(t, decoded(rows), got)
		require.Nil(t, rowpack.Base(rows[0]).Template.Params)
		require.Equal(t, []string{"a", "b"}, rows[0].Template.Params, "Base does not change the row it is given")
	})

	t.Run("a packed row is smaller than the same row whole", func(t *testing.T) {
		packed, _ := pack(t, 0, row(tasks.Recipient{Phone: "6591234567", Name: "Ada"}, "a", "b", "c"))
		whole, _ := pack(t, 0, with(tasks.Recipient{Phone: "6591234567", Name: "Ada"}, func(m *tasks.Message) {
			m.Template.Params = []string{"a", "b", "c"}
			m.Template.Name = "other"
		}))
		require.Less(t, 3*len(packed), len(whole), "packed %d B, whole %d B", len(packed), len(whole))
	})
}

func TestWriterChunks(t *testing.T) {
	w := rowpack.NewWriter(base(), 1)
	first := with(phone("6591234567"), func(m *tasks.Message) { m.Template.Name = "other" })
	require.NoError(t, w.Add(&first))
	require.True(t, w.Whole())
	size := w.Size()
	chunk1 := w.Chunk()
	require.LessOrEqual(t, len(chunk1), size, "Size bounds the chunk")
	require.Zero(t, w.Rows(), "Chunk starts the next chunk")
	require.False(t, w.Whole(), "the next chunk has no whole row yet")
	kept := append([]byte(nil), chunk1...)

	second := row(tasks.Recipient{ContactID: "c1"}, "a")
	require.NoError(t, w.Add(&second))
	require.Equal(t, 1, w.Rows())
	require.False(t, w.Whole())
	chunk2 := w.Chunk()
	require.Equal(t, kept, chunk1, "a chunk handed out stays as it was")

	got, err := rowpack.Decode(chunk1, rowpack.Base(base()), 0, 10)
	require.NoError(t, err)
	require.Equal(t, decoded([]tasks.Message{first}), got)
	got, err = rowpack.Decode(chunk2, rowpack.Base(base()), 0, 10)
	require.NoError(t, err)
	require.Equal(t, decoded([]tasks.Message{second}), got)
}

func TestDecodeWindow(t *testing.T) {
	var rows []tasks.Message
	for i := range 7 {
		to := tasks.Recipient{Phone: fmt.Sprintf("65912345%02d", i)}
		if i%3 == 1 {
			to = tasks.Recipient{ContactID: fmt.Sprintf("c%d", i)}
		}
		m := row(to, fmt.Sprint(i))
		if i == 4 {
			m.Template.Name = "other" // whole rows are stepped over too
		}
		rows = append(rows, m)
	}
	chunk, _ := pack(t, 0, rows...)
	want := decoded(rows)
	for _, tc := range []struct{ from, n int }{
		{0, 7}, {0, 100}, {0, 1}, {2, 3}, {3, 100}, {4, 1}, {5, 2}, {6, 1}, {6, 5},
	} {
		got, err := rowpack.Decode(chunk, rowpack.Base(base()), tc.from, tc.n)
		require.NoError(t, err, "from %d n %d", tc.from, tc.n)
		require.Equal(t, want[tc.from:min(tc.from+tc.n, len(want))], got, "from %d n %d", tc.from, tc.n)
	}
	for _, tc := range []struct{ from, n int }{{7, 1}, {100, 5}, {0, 0}, {3, 0}} {
		got, err := rowpack.Decode(chunk, rowpack.Base(base()), tc.from, tc.n)
		require.NoError(t, err, "from %d n %d", tc.from, tc.n)
		require.Empty(t, got, "from %d n %d", tc.from, tc.n)
	}
}

func TestCorrupt(t *testing.T) {
	chunk, _ := pack(t, 300, // a base index of two bytes
		row(tasks.Recipient{Phone: "6591234567", Name: "Ada"}, "a", strings.Repeat("b", 200)),
		with(tasks.Recipient{ContactID: "c1"}, func(m *tasks.Message) { m.Template.Name = "other" }),
		row(tasks.Recipient{ClientID: "l1"}),
	)

	t.Run("every truncation", func(t *testing.T) {
		for i := range len(chunk) {
			_, err := rowpack.Decode(chunk[:i], rowpack.Base(base()), 0, 3)
			require.ErrorIs(t, err, rowpack.ErrCorrupt, "chunk cut at %d of %d", i, len(chunk))
		}
		for _, i := range []int{0, 1, 2} {
			_, _, err := rowpack.Header(chunk[:i])
			require.ErrorIs(t, err, rowpack.ErrCorrupt, "header cut at %d", i)
		}
	})

	for _, tc := range []struct {
		name  string
		chunk []byte
	}{
		{"unknown recipient kind", []byte{0, 1, 3, 1, 'x'}},
		{"string longer than the chunk", []byte{0, 1, 0, 50, 'x'}},
		{"length past any int", []byte{0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"parameter count past the chunk", []byte{0, 1, 8, 1, 'x', 0xff, 0xff, 0x03}},
		{"whole row that is not JSON", []byte{0, 1, 16, 3, '{', 'x', '}'}},
		{"whole row with JSON of another shape", []byte{0, 1, 16, 2, '[', ']'}},
		{"more rows than the chunk holds", []byte{0, 2, 0, 1, 'x'}},
		{"varint overflow in the header", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rowpack.Decode(tc.chunk, rowpack.Base(base()), 0, 10)
			require.ErrorIs(t, err, rowpack.ErrCorrupt)
		})
	}
}

func TestMember(t *testing.T) {
	a := rowpack.Member(tasks.WhatsApp, tasks.Recipient{Phone: "6591234567", Name: "Ada"})
	require.Equal(t, a, rowpack.Member(tasks.WhatsApp, tasks.Recipient{Phone: "6591234567", Name: "Bob"}),
		"the name is no part of the recipient")
	require.NotEqual(t, a, rowpack.Member(tasks.Telegram, tasks.Recipient{Phone: "6591234567"}), "another channel")
	require.NotEqual(t, a, rowpack.Member(tasks.WhatsApp, tasks.Recipient{ContactID: "6591234567"}), "another kind of id")
	require.NotEqual(t, rowpack.Member(tasks.WhatsApp, tasks.Recipient{ContactID: "x"}),
		rowpack.Member(tasks.WhatsApp, tasks.Recipient{ClientID: "x"}))
}

func TestParseMessageID(t *testing.T) {
	m := rowpack.Member(tasks.WhatsApp, tasks.Recipient{Phone: "6591234567"})
	for _, campaign := range []string{"spring", "a", "spring:2026", "x:0123456789abcdef0123", "with space"} {
		id := rowpack.MessageID(campaign, m)
		require.Len(t, id, len(campaign)+1+2*rowpack.MemberSize)
		c, got, ok := rowpack.ParseMessageID(id)
		require.True(t, ok, id)
		require.Equal(t, campaign, c)
		require.Equal(t, m, got)
	}

	hex := rowpack.MessageID("", m)[1:] // the member's 20 hex digits
	for _, id := range []string{
		"",
		"m1",
		hex,                   // no campaign
		":" + hex,             // an empty campaign
		"spring-" + hex,       // no colon
		"spring:" + hex[1:],   // 19 digits
		"spring:" + hex + "0", // 21 digits
		"spring:" + hex[:19] + "g",
		"spring:" + strings.ToUpper(hex),      // not the id MessageID makes
		"spring:" + hex[:10] + ":" + hex[11:], // a colon among the digits
		"spring:" + strings.Repeat("0", 19) + "\x00", // a control byte
	} {
		_, _, ok := rowpack.ParseMessageID(id)
		require.False(t, ok, "%q", id)
	}
}

// seeds are chunks of every shape, for the fuzz tests.
func seeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, rows := range [][]tasks.Message{
		{row(tasks.Recipient{Phone: "6591234567", Name: "Ada"}, "a", "b", "c")},
		{row(tasks.Recipient{ContactID: "c1"}), row(tasks.Recipient{ClientID: "l1"}, "p")},
		{with(phone("6591234567"), func(m *tasks.Message) { m.Kind, m.Template, m.Text = tasks.KindText, nil, "hi" })},
	} {
		chunk, _ := pack(t, 0, rows...)
		out = append(out, chunk)
	}
	return out
}

// FuzzDecode: any bytes decode to rows or to ErrCorrupt, never a panic,
// and never more rows than asked for. The seed corpus is in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, uint16(0), uint16(10))
	}
	f.Fuzz(func(t *testing.T, chunk []byte, from, n uint16) {
		_, rows, herr := rowpack.Header(chunk)
		got, err := rowpack.Decode(chunk, rowpack.Base(base()), int(from), int(n))
		if err != nil {
			require.ErrorIs(t, err, rowpack.ErrCorrupt)
			return
		}
		require.LessOrEqual(t, len(got), int(n))
		if herr == nil && rows >= 0 {
			require.LessOrEqual(t, len(got), rows)
		}
	})
}

// FuzzRoundTrip: a row of any recipient, name and parameters comes back
// as it went in, packed or whole.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(0), "6591234567", "Ada", "a", "b", uint8(2), false)
	f.Add(uint8(1), "c1", "", "", "", uint8(0), true)
	f.Add(uint8(2), "l1", "", "x", "", uint8(1), false)
	f.Fuzz(func(t *testing.T, kind uint8, value, name, p1, p2 string, nparams uint8, whole bool) {
		var to tasks.Recipient
		switch kind % 3 {
		case 0:
			to = tasks.Recipient{Phone: value, Name: name}
		case 1:
			to = tasks.Recipient{ContactID: value, Name: name}
		default:
			to = tasks.Recipient{ClientID: value, Name: name}
		}
		if value == "" {
			to = tasks.Recipient{Name: name} // no id at all packs as an empty phone
		}
		params := []string{p1, p2, p1 + p2}[:nparams%4]
		if len(params) == 0 {
			params = nil
		}
		m := row(to, params...)
		if whole {
			// A whole row goes through JSON, which keeps valid UTF-8 only.
			for _, s := range []string{value, name, p1, p2} {
				if !utf8.ValidString(s) {
					t.Skip()
				}
			}
			m.Template.Name = "other"
		}
		chunk, gotWhole := pack(t, 0, m)
		require.Equal(t, whole, gotWhole)
		got, err := rowpack.Decode(chunk, rowpack.Base(base()), 0, 1)
		require.NoError(t, err)
		require.Equal(t, decoded([]tasks.Message{m}), got)
	})
}

// BenchmarkPack packs a typical campaign row (a phone, a name and three
// template parameters) and reports its packed size:
//
//	go test -run '^$' -bench Pack -benchmem ./internal/rowpack/
func BenchmarkPack(b *testing.B) {
	const chunkRows = 1000 // as a start stores them
	rows := make([]tasks.Message, chunkRows)
	for i := range rows {
		rows[i] = row(tasks.Recipient{Phone: fmt.Sprintf("65%08d", 90000000+i), Name: fmt.Sprintf("Guest %d", i)},
			"10%", "May", fmt.Sprintf("#%d", i))
	}
	w := rowpack.NewWriter(rows[0], 0)
	total, whole := 0, false
	chunk := func() {
		whole = whole || w.Whole()
		total += len(w.Chunk())
	}
	b.ResetTimer()
	for i := range b.N {
		if err := w.Add(&rows[i%chunkRows]); err != nil {
			b.Fatal(err)
		}
		if w.Rows() == chunkRows {
			chunk()
		}
	}
	if w.Rows() > 0 {
		chunk()
	}
	b.StopTimer()
	if whole {
		b.Fatal("a typical row was kept whole")
	}
	b.ReportMetric(float64(total)/float64(b.N), "bytes/row")
}
