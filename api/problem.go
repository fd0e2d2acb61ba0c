package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/sendq/sendq/tasks"
)

// Problem is an RFC 9457 problem detail, as every refusal of the API
// answers it (Content-Type application/problem+json).
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one invalid field of a request and says what is wrong,
// in the words of tasks.ValidationError (and so of the CLI). A campaign
// row's error carries its line in the file as well.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
}

// Error makes a Problem an error, so handlers can return one.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

// Problem types: each names a kind of refusal (RFC 9457 "type").
const (
	typeInvalid      = "urn:sendq:problem:invalid-request"
	typeUnauthorized = "urn:sendq:problem:unauthorized"
	typeForbidden    = "urn:sendq:problem:forbidden"
	typeNotFound     = "urn:sendq:problem:not-found"
	typeTooLarge     = "urn:sendq:problem:too-large"
	typeConflict     = "urn:sendq:problem:conflict"
	typeMediaType    = "urn:sendq:problem:unsupported-media-type"
	typeUpstream     = "urn:sendq:problem:upstream"
	typeInternal     = "urn:sendq:problem:internal"
	typeMethod       = "urn:sendq:problem:method-not-allowed"
)

// invalid is a 400 naming field.
func invalid(field, message string) *Problem {
	return &Problem{Type: typeInvalid, Title: "Invalid request", Status: http.StatusBadRequest,
		Detail: field + ": " + message, Errors: []FieldError{{Field: field, Message: message}}}
}

// fromValidation is the 400 of a *tasks.ValidationError; prefix, when set,
// goes before the field ("messages[3].").
func fromValidation(v *tasks.ValidationError) *Problem {
	return invalid(v.Field, v.Reason)
}

func forbidden(field, message string) *Problem {
	return &Problem{Type: typeForbidden, Title: "Forbidden", Status: http.StatusForbidden,
		Detail: field + ": " + message, Errors: []FieldError{{Field: field, Message: message}}}
}

func notFound(detail string) *Problem {
	return &Problem{Type: typeNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: detail}
}

func conflict(field, message string) *Problem {
	return &Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict,
		Detail: field + ": " + message, Errors: []FieldError{{Field: field, Message: message}}}
}

func internal() *Problem {
	return &Problem{Type: typeInternal, Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: "the request could not be completed; it is safe to retry with the same id"}
}

// asProblem turns a handler's error into the problem to answer: a Problem
// as it is, a validation error as a 400, anything else as a 500.
func asProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var v *tasks.ValidationError
	if errors.As(err, &v) {
		return fromValidation(v)
	}
	return internal()
}

// writeProblem answers p.
func writeProblem(rw http.ResponseWriter, p *Problem) {
	if p.Status == http.StatusUnauthorized {
		rw.Header().Set("WWW-Authenticate", `Bearer realm="sendq"`)
	}
	rw.Header().Set("Content-Type", "application/problem+json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(p.Status)
	_ = json.NewEncoder(rw).Encode(p)
}

// writeJSON answers v with status.
func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}
