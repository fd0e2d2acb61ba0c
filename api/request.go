package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// readBody reads a request body of at most limit bytes.
func readBody(rw http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, limit))
	if err != nil {
		return nil, bodyError(err, limit)
	}
	return data, nil
}

// bodyError is the problem of a body that could not be read.
func bodyError(err error, limit int64) *Problem {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		msg := fmt.Sprintf("larger than the limit of %d bytes", limit)
		return &Problem{Type: typeTooLarge, Title: "Request body too large", Status: http.StatusRequestEntityTooLarge,
			Detail: "body: " + msg, Errors: []FieldError{{Field: "body", Message: msg}}}
	}
	return invalid("body", "could not be read: "+err.Error())
}

// requireType refuses a body whose Content-Type is not one of want (the
// first is named in the problem).
func requireType(r *http.Request, want ...string) (string, *Problem) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		for _, w := range want {
			if mt == w {
				return mt, nil
			}
		}
	}
	msg := fmt.Sprintf("want %s, not %q", want[0], ct)
	if len(want) > 1 {
		msg = fmt.Sprintf("want one of %v, not %q", want, ct)
	}
	return "", &Problem{Type: typeMediaType, Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType,
		Detail: "Content-Type: " + msg, Errors: []FieldError{{Field: "Content-Type", Message: msg}}}
}
