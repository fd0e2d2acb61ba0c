package producer_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
)

func TestReadCampaign(t *testing.T) {
	defaults := producer.Fields{Channel: "whatsapp", Template: "sale", Language: "en"}

	t.Run("CSVRowsWithLineNumbers", func(t *testing.T) {
		csv := "phone,name,param1,param2\n" +
			"+65 9876 5432,Ada,10%,May\n" +
			"12,Bob,1,2\n" + // bad phone: line 3
			"\n" +
			"+44 20 7946 0958,Cy,5%,\n" + // param2 missing: line 5
			"+1 415 555 0100,Di,7%,June\n"
		rows, bad, err := producer.ReadCampaign(strings.NewReader(csv), false, defaults)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		require.Equal(t, 2, rows[0].Line)
		require.Equal(t, "6598765432", rows[0].Message.To.Phone)
		require.Equal(t, []string{"10%", "May"}, rows[0].Message.Template.Params)
		require.Equal(t, 6, rows[1].Line)
		require.Len(t, bad, 2)
		require.Equal(t, 3, bad[0].Line)
		require.ErrorContains(t, bad[0].Err, "to.phone")
		require.Equal(t, 5, bad[1].Line)
		require.ErrorContains(t, bad[1].Err, "template.params[1]")
	})

	t.Run("RowOverridesContentAndChannel", func(t *testing.T) {
		jl := `{"contact_id":"c1"}
{"contact_id":"c2","channel":"telegram","text":"hello"}
{"contact_id":"c3","client_id":"x"}
not json
{"contact_id":"c4","colour":"red"}
`
		rows, bad, err := producer.ReadCampaign(strings.NewReader(jl), true, defaults)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		require.Equal(t, tasks.KindTemplate, rows[0].Message.Kind)
		require.Equal(t, tasks.Telegram, rows[1].Message.Channel)
		require.Equal(t, tasks.KindText, rows[1].Message.Kind)
		require.Equal(t, []int{3, 4, 5}, []int{bad[0].Line, bad[1].Line, bad[2].Line})
		require.ErrorContains(t, bad[0].Err, "to")
		require.ErrorContains(t, bad[2].Err, `unknown key "colour"`)
	})

	t.Run("CategoryColumn", func(t *testing.T) {
		csv := "contact_id,category,channel,text\n" +
			"c1,utility,,\n" +
			"c2,,,\n" +
			"c3,promo,,\n" + // line 4: no such category
			"c4,marketing,telegram,hello\n" // line 5: a text has no category
		rows, bad, err := producer.ReadCampaign(strings.NewReader(csv), false,
			producer.Fields{Channel: "whatsapp", Template: "sale", Language: "en", Category: "authentication"})
		require.NoError(t, err)
		require.Len(t, rows, 2)
		require.Equal(t, tasks.Utility, rows[0].Message.Template.Category, "the row's category wins")
		require.Equal(t, tasks.Authentication, rows[1].Message.Template.Category, "the default's")
		require.Len(t, bad, 2)
		require.Equal(t, 4, bad[0].Line)
		require.ErrorContains(t, bad[0].Err, "template.category")
		require.Equal(t, 5, bad[1].Line)
		require.ErrorContains(t, bad[1].Err, "only a template has a category")
	})

	t.Run("UnknownColumnIsAFileError", func(t *testing.T) {
		_, _, err := producer.ReadCampaign(strings.NewReader("phone,colour\n"), false, defaults)
		require.ErrorContains(t, err, `unknown column "colour"`)
	})
}

// FuzzReadCampaign: any file reads without a panic, every row it accepts is a
// valid message, and line numbers stay within the file.
func FuzzReadCampaign(f *testing.F) {
	f.Add([]byte("phone,name,param1\n+65 9876 5432,Ada,10%\n"), false)
	f.Add([]byte("contact_id,channel,text\nc1,telegram,hi\n"), false)
	f.Add([]byte("{\"contact_id\":\"c1\",\"param1\":\"x\"}\n{\"phone\":12345678}\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, jsonLines bool) {
		defaults := producer.Fields{Channel: "whatsapp", Template: "sale", Language: "en"}
		rows, bad, err := producer.ReadCampaign(strings.NewReader(string(data)), jsonLines, defaults)
		if err != nil {
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, r := range rows {
			m := r.Message
			if err := m.Validate(); err != nil {
				t.Fatalf("line %d accepted but invalid: %v", r.Line, err)
			}
			if r.Line < 1 || r.Line > lines {
				t.Fatalf("line %d outside the file's %d", r.Line, lines)
			}
		}
		for _, e := range bad {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("error line %d outside the file's %d", e.Line, lines)
			}
		}
	})
}
