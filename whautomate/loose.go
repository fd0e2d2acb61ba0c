package whautomate

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// The upstream's JSON is loosely typed (booleans as strings, numbers as
// strings, fields that move). These helpers read JSON decoded into any with
// UseNumber, never panic, and treat every unexpected shape as "absent".

// decodeLoose decodes one JSON value, keeping numbers as json.Number so that
// large ids survive in full.
func decodeLoose(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// lookup follows a dotted path of object keys ("data.messageId").
func lookup(v any, path string) any {
	for key := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// first returns the first of the paths that holds a non-null value.
func first(v any, paths ...string) any {
	for _, p := range paths {
		if x := lookup(v, p); x != nil {
			return x
		}
	}
	return nil
}

// firstString returns the first of the paths that holds a non-empty
// string-ish value.
func firstString(v any, paths ...string) string {
	for _, p := range paths {
		if s := looseString(lookup(v, p)); s != "" {
			return s
		}
	}
	return ""
}

// looseString reads a string, or a number in full; anything else is "".
func looseString(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// looseInt reads an integral number, or a string holding one.
func looseInt(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// looseFloat reads a finite number, or a string holding one.
func looseFloat(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// looseBool reads a boolean, the strings "true"/"false" (also "1"/"0",
// "yes"/"no"), or the numbers 1 and 0. ok is false for anything else.
func looseBool(v any) (b, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1", "yes", "y":
			return true, true
		case "false", "0", "no", "n":
			return false, true
		}
	case json.Number:
		switch x.String() {
		case "1":
			return true, true
		case "0":
			return false, true
		}
	}
	return false, false
}
