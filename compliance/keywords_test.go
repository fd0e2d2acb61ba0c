package compliance_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/compliance"
)

func TestDefaultKeywordsMatch(t *testing.T) {
	t.Parallel()
	k := compliance.DefaultKeywords()
	tests := []struct {
		text string
		want compliance.Action
	}{
		// English
		{"STOP", compliance.OptOut},
		{"stop", compliance.OptOut},
		{" Stop \n", compliance.OptOut},
		{"\tsToP\u00a0", compliance.OptOut},
		{"StopAll", compliance.OptOut},
		{"unsubscribe", compliance.OptOut},
		{"Cancel", compliance.OptOut},
		{"end", compliance.OptOut},
		{"QUIT ", compliance.OptOut},
		{"optout", compliance.OptOut},
		// Spanish and Portuguese
		{"parar", compliance.OptOut},
		{"  Baja", compliance.OptOut},
		{"SAIR", compliance.OptOut},
		{"sair\r\n", compliance.OptOut},
		// French, with and without the accent, composed or not
		{"arrêt", compliance.OptOut},
		{"ARRÊT", compliance.OptOut},
		{"Arre\u0302t", compliance.OptOut},
		{"arret", compliance.OptOut},
		// opt-in
		{"START", compliance.OptIn},
		{" start ", compliance.OptIn},
		{"Unstop", compliance.OptIn},
		{"subscribe", compliance.OptIn},
		// not a whole-message keyword
		{"", compliance.None},
		{"   ", compliance.None},
		{"please stop", compliance.None},
		{"stop!", compliance.None},
		{"STOPP", compliance.None},
		{"S T O P", compliance.None},
		{"stop stop", compliance.None},
		{"starting", compliance.None},
		{"hello", compliance.None},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, k.Match(tt.text))
		})
	}
}

func TestCustomKeywords(t *testing.T) {
	t.Parallel()
	out, err := compliance.ParseKeywordList("STOP, Abmelden,СТОП ,straße")
	require.NoError(t, err)
	require.Equal(t, []string{"STOP", "Abmelden", "СТОП", "straße"}, out)
	in, err := compliance.ParseKeywordList("START,Anmelden")
	require.NoError(t, err)
	k, err := compliance.NewKeywords(out, in)
	require.NoError(t, err)

	for text, want := range map[string]compliance.Action{
		"ABMELDEN":  compliance.OptOut, // German
		"стоп":      compliance.OptOut, // Russian
		" Стоп ":    compliance.OptOut,
		"STRASSE":   compliance.OptOut, // full case folding: ß is ss
		"anmelden":  compliance.OptIn,
		"parar":     compliance.None, // not a default any more
		"subscribe": compliance.None,
	} {
		require.Equal(t, want, k.Match(text), "%q", text)
	}

	require.Equal(t, compliance.None, compliance.Keywords{}.Match("STOP"), "the zero value matches nothing")
}

func TestKeywordErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "STOP,,END", "STOP, ", " , STOP"} {
		_, err := compliance.ParseKeywordList(s)
		require.ErrorContains(t, err, `"`+s+`"`, "names the value")
	}
	_, err := compliance.NewKeywords([]string{"STOP"}, []string{"stop"})
	require.ErrorContains(t, err, `"stop" is both`)
	_, err = compliance.NewKeywords([]string{" "}, nil)
	require.ErrorContains(t, err, "empty keyword")
}

func TestActionString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "none", compliance.None.String())
	require.Equal(t, "opt_out", compliance.OptOut.String())
	require.Equal(t, "opt_in", compliance.OptIn.String())
}

// TestDefaultKeywordLists holds the defaults to README "Compliance".
func TestDefaultKeywordLists(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
		"PARAR", "BAJA", "ARRET", "ARRÊT", "SAIR"}, compliance.DefaultOptOut)
	require.Equal(t, []string{"START", "UNSTOP", "SUBSCRIBE"}, compliance.DefaultOptIn)
}
