package producer

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/sendq/sendq/tasks"
)

// RowError is a campaign row that was not accepted, with its line in the
// file (a CSV header is line 1).
type RowError struct {
	Line int
	Err  error
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Row is a campaign row that became a message.
type Row struct {
	Line    int
	Message tasks.Message
	// checked: ScanCampaign validated Message as it is, so a start need not
	// validate it again (half of a start's time went to validating twice).
	checked bool
}

// campaignColumns are the keys a row may carry (README "Campaigns").
var campaignColumns = map[string]bool{
	"contact_id": true, "client_id": true, "phone": true, "name": true,
	"channel": true, "template": true, "language": true, "text": true,
	"media_url": true, "mime_type": true, "caption": true, "category": true,
}

// ReadCampaign reads a campaign's recipients — CSV with a header row, or JSON
// Lines when jsonLines — one per row, with defaults for what a row does not
// say (a row that sets any content, text, media_url or template, replaces the
// defaults' content). Rows that do not make a valid message come back as
// RowErrors with their line; the others as Rows. Only an unreadable file is
// an error. ScanCampaign reads a file of any size without holding it.
func ReadCampaign(r io.Reader, jsonLines bool, defaults Fields) ([]Row, []RowError, error) {
	var rows []Row
	var bad []RowError
	err := ScanCampaign(r, jsonLines, defaults,
		func(row Row) error { rows = append(rows, row); return nil },
		func(e RowError) { bad = append(bad, e) })
	return rows, bad, err
}

// ScanCampaign reads a campaign file as ReadCampaign does, giving each valid
// row to emit and each invalid one to reject as it is read. It stops at
// emit's first error, and returns it.
func ScanCampaign(r io.Reader, jsonLines bool, defaults Fields, emit func(Row) error, reject func(RowError)) error {
	if jsonLines {
		return scanJSONLines(r, defaults, emit, reject)
	}
	return scanCSV(r, defaults, emit, reject)
}

func scanCSV(r io.Reader, defaults Fields, emit func(Row) error, reject func(RowError)) error {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return errors.New("campaign file: empty (a CSV needs a header row)")
	}
	if err != nil {
		return fmt.Errorf("campaign file: %w", err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !campaignColumns[cols[i]] && !isParam(cols[i]) {
			return fmt.Errorf("campaign file: line 1: unknown column %q", h)
		}
	}
	vals := make(map[string]string, len(cols))
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				reject(RowError{Line: pe.StartLine, Err: pe.Err})
				continue
			}
			return fmt.Errorf("campaign file: %w", err)
		}
		line, _ := cr.FieldPos(0) // a record read without error has a field
		if len(rec) != len(cols) {
			reject(RowError{Line: line, Err: fmt.Errorf("has %d fields, the header %d", len(rec), len(cols))})
			continue
		}
		clear(vals)
		for i, c := range cols {
			// Parameters are kept even when empty: a blank param2 must be
			// refused, not shift param3 into its place.
			if v := strings.TrimSpace(rec[i]); v != "" || isParam(c) {
				vals[c] = v
			}
		}
		if len(vals) == 0 {
			continue // a blank line
		}
		m, err := rowMessage(vals, defaults)
		if err != nil {
			reject(RowError{Line: line, Err: err})
			continue
		}
		if err := emit(Row{Line: line, Message: m, checked: true}); err != nil {
			return err
		}
	}
}

func scanJSONLines(r io.Reader, defaults Fields, emit func(Row) error, reject func(RowError)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(text), &obj); err != nil {
			reject(RowError{Line: line, Err: fmt.Errorf("not a JSON object: %v", err)})
			continue
		}
		vals := make(map[string]string, len(obj))
		var rowErr error
		for k, v := range obj {
			k = strings.ToLower(k)
			if !campaignColumns[k] && !isParam(k) {
				rowErr = fmt.Errorf("unknown key %q", k)
				break
			}
			switch x := v.(type) {
			case string:
				if x = strings.TrimSpace(x); x != "" {
					vals[k] = x
				}
			case float64:
				vals[k] = strconv.FormatFloat(x, 'f', -1, 64)
			case nil:
			default:
				rowErr = fmt.Errorf("%s: want a string", k)
			}
		}
		if rowErr == nil {
			var m tasks.Message
			if m, rowErr = rowMessage(vals, defaults); rowErr == nil {
				if err := emit(Row{Line: line, Message: m, checked: true}); err != nil {
					return err
				}
				continue
			}
		}
		reject(RowError{Line: line, Err: rowErr})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("campaign file: line %d: %w", line+1, err)
	}
	return nil
}

func isParam(col string) bool {
	n, ok := strings.CutPrefix(col, "param")
	if !ok {
		return false
	}
	i, err := strconv.Atoi(n)
	return err == nil && i >= 1 && i <= 100
}

// rowMessage builds and validates one row's message.
func rowMessage(vals map[string]string, defaults Fields) (tasks.Message, error) {
	f := defaults
	f.ContactID, f.ClientID, f.Phone, f.Name = vals["contact_id"], vals["client_id"], vals["phone"], vals["name"]
	if v, ok := vals["channel"]; ok {
		f.Channel = v
	}
	if vals["text"] != "" || vals["media_url"] != "" || vals["template"] != "" {
		f.Text, f.MediaURL, f.MimeType, f.Caption, f.Template, f.Language, f.Category = "", "", "", "", "", "", ""
		f.Params, f.Buttons, f.Elements = nil, nil, nil
	}
	for k, v := range map[string]*string{"text": &f.Text, "media_url": &f.MediaURL, "mime_type": &f.MimeType,
		"caption": &f.Caption, "template": &f.Template, "language": &f.Language, "category": &f.Category} {
		if x, ok := vals[k]; ok {
			*v = x
		}
	}
	if params := rowParams(vals); params != nil {
		f.Params = params
	}
	m, err := f.Message()
	if err != nil {
		return m, err
	}
	m.ID = "row" // replaced by the campaign's id for the recipient
	if err := m.Validate(); err != nil {
		return m, err
	}
	return m, nil
}

// rowParams returns param1, param2, … in order; a gap is an empty parameter
// (which validation refuses), so a missing column is never silently skipped.
func rowParams(vals map[string]string) []string {
	var idx []int
	for k := range vals {
		if isParam(k) {
			n, _ := strconv.Atoi(strings.TrimPrefix(k, "param"))
			idx = append(idx, n)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	sort.Ints(idx)
	params := make([]string, idx[len(idx)-1])
	blank := true
	for _, n := range idx {
		params[n-1] = vals["param"+strconv.Itoa(n)]
		blank = blank && params[n-1] == ""
	}
	if blank {
		return nil // a row of a campaign without parameters
	}
	return params
}
