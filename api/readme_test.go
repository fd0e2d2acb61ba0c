package api_test

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
)

// TestREADME runs the curl commands of README "HTTP API", in order, against
// a real server: each must succeed, and its request and answer must match
// the OpenAPI document.
func TestREADME(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	section := readmeSection(t, string(data), "## HTTP API")
	cmds, files := curlCommands(t, section)
	require.GreaterOrEqual(t, len(cmds), 10, "the README's examples")

	const token = "readme-token"
	f := setup(t, func(o *setupOptions) {
		o.accounts = []accounts.Account{{ID: "clinic-sg"}}
		o.cfg.Token = token
	})
	vars := map[string]string{"SENDQ": f.srv.URL, "TOKEN": token}
	for _, args := range cmds {
		c := curlCall(t, args, vars, files)
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			if strings.HasPrefix(c.path, "/api/v1/events") {
				// A stream: connecting is the test (connect checks the
				// answer against the document).
				tok := strings.TrimPrefix(c.header["Authorization"], "Bearer ")
				f.connect(tok, c.header["Last-Event-ID"]).close()
				return
			}
			a := f.do(c)
			require.True(t, a.status >= 200 && a.status < 300, "%s %s: %d %s", c.method, c.path, a.status, a.body)
			if strings.HasSuffix(c.path, "/batch") {
				for _, r := range a.json(t)["results"].([]any) {
					require.NotContains(t, r, "error", "every message of the example is accepted: %s", a.body)
				}
			}
		})
	}
}

// readmeSection is the text under heading, up to the next heading of its
// level.
func readmeSection(t *testing.T, doc, heading string) string {
	i := strings.Index(doc, "\n"+heading+"\n")
	require.GreaterOrEqual(t, i, 0, "README has no %q", heading)
	rest := doc[i+len(heading)+2:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// curlCommands returns the curl commands of the section's sh blocks, split
// into words as the shell does, and the contents of its other fenced blocks
// named by the sentence before them ("`recipients.csv`:").
func curlCommands(t *testing.T, section string) ([][]string, map[string]string) {
	var cmds [][]string
	files := map[string]string{}
	parts := strings.Split(section, "```")
	for i := 1; i < len(parts); i += 2 {
		lang, body, _ := strings.Cut(parts[i], "\n")
		switch lang {
		case "sh":
			for _, words := range shellWords(t, body) {
				require.Equal(t, "curl", words[0])
				cmds = append(cmds, words[1:])
			}
		case "csv":
			before := strings.TrimSpace(parts[i-1])
			j := strings.LastIndex(before, "`")
			k := strings.LastIndex(before[:j], "`")
			files[before[k+1:j]] = body
		}
	}
	return cmds, files
}

// shellWords splits sh text into commands of words: single and double
// quotes, backslash-newline continuation; $NAME stays as written.
func shellWords(t *testing.T, text string) [][]string {
	var cmds [][]string
	var words []string
	var w strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, w.String())
			w.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\' && i+1 < len(text) && text[i+1] == '\n':
			i++
		case c == '\n':
			flush()
			if len(words) > 0 {
				cmds = append(cmds, words)
				words = nil
			}
		case c == ' ' || c == '\t':
			flush()
		case c == '\'' || c == '"':
			end := strings.IndexByte(text[i+1:], c)
			require.GreaterOrEqual(t, end, 0, "unclosed quote in %q", text)
			q := text[i+1 : i+1+end]
			if c == '"' {
				q = "\x00" + q // marks a double-quoted part, where $NAME expands
			}
			w.WriteString(q)
			inWord = true
			i += end + 1
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	flush()
	if len(words) > 0 {
		cmds = append(cmds, words)
	}
	return cmds
}

// curlCall turns curl's words into the request they make.
func curlCall(t *testing.T, args []string, vars, files map[string]string) call {
	expand := func(s string) string {
		s = strings.ReplaceAll(s, "\x00", "")
		for k, v := range vars {
			s = strings.ReplaceAll(s, "$"+k, v)
		}
		return s
	}
	c := call{header: map[string]string{}}
	var rawURL string
	for i := 0; i < len(args); i++ {
		a := expand(args[i])
		switch a {
		case "-s", "-sN", "-N":
		case "-X":
			i++
			c.method = expand(args[i])
		case "-H":
			i++
			k, v, ok := strings.Cut(expand(args[i]), ": ")
			require.True(t, ok, "header %q", args[i])
			c.header[k] = v
		case "-d", "--data-binary":
			i++
			c.body = expand(args[i])
			if name, ok := strings.CutPrefix(c.body, "@"); ok {
				body, found := files[name]
				require.True(t, found, "the README shows no %s", name)
				c.body = body
			}
		default:
			require.False(t, strings.HasPrefix(a, "-"), "curl flag %s: not understood by this test", a)
			rawURL = a
		}
	}
	if c.method == "" {
		c.method = http.MethodGet
		if c.body != "" {
			c.method = http.MethodPost
		}
	}
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	require.Equal(t, vars["SENDQ"], u.Scheme+"://"+u.Host)
	c.path = u.RequestURI()
	return c
}
