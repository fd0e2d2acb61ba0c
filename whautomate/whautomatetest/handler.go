package whautomatetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sendq/sendq/tasks"
)

const (
	maxBody       = 1 << 20
	maxText       = 4096
	maxCaption    = 1024 // Telegram
	maxElements   = 10   // Meta's generic template
	defaultLimit  = 20
	maxLimit      = 100
	windowMessage = "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
	metaWindowMsg = "(#10) This message is sent outside of allowed window."
	invalidCode   = 100 // Meta's "invalid parameter"
)

// The request body of every send endpoint: the union of their fields. Each
// endpoint then refuses the fields it does not document.
type sendRequest struct {
	Contact              *idRef           `json:"contact"`
	Client               *idRef           `json:"client"`
	Recepient            *person          `json:"recepient"`
	Location             *idRef           `json:"location"`
	TextMessage          *string          `json:"textMessage"`
	MediaURL             *string          `json:"mediaUrl"`
	MimeType             *string          `json:"mimeType"`
	Caption              *string          `json:"caption"`
	Template             *templateRef     `json:"template"`
	HeaderMediaURL       *string          `json:"headerMediaUrl"`
	HeaderTextParameters []string         `json:"headerTextParameters"`
	BodyTextParameters   []string         `json:"bodyTextParameters"`
	ButtonURLParameters  []string         `json:"buttonUrlParameters"`
	Buttons              []telegramButton `json:"buttons"`
	Elements             []element        `json:"elements"`
}

type idRef struct {
	ID string `json:"id"`
}

type person struct {
	PhoneNumber string `json:"phoneNumber"`
	Name        string `json:"name"`
}

type templateRef struct {
	Name     string `json:"name"`
	Language string `json:"language"`
}

type telegramButton struct {
	Text         string `json:"text"`
	URL          string `json:"url"`
	CallbackData string `json:"callback_data"`
}

type element struct {
	Title    string       `json:"title"`
	Subtitle string       `json:"subtitle"`
	ImageURL string       `json:"image_url"`
	Buttons  []cardButton `json:"buttons"`
}

type cardButton struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	URL     string `json:"url"`
	Payload string `json:"payload"`
}

// recipient is the request's recipient key: contact id, client id or phone.
func (r *sendRequest) recipient() string {
	switch {
	case r.Contact != nil && r.Contact.ID != "":
		return r.Contact.ID
	case r.Client != nil && r.Client.ID != "":
		return r.Client.ID
	case r.Recepient != nil:
		return r.Recepient.PhoneNumber
	}
	return ""
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "sandbox closed", 0)
		return
	}
	s.wg.Add(1) // under mu, so never concurrent with Close's Wait
	s.mu.Unlock()
	defer s.wg.Done()

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return // the client went away
	}

	// Route on the escaped path: a contact id may hold an escaped "/".
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/messages/")
	parts := strings.Split(rest, "/")
	switch {
	case ok && len(parts) == 2 && r.Method == http.MethodPost:
		s.serveSend(w, r, received, tasks.Channel(parts[0]), parts[1], body)
	case ok && len(parts) == 1 && parts[0] != "" && r.Method == http.MethodGet:
		s.serveMessages(w, r, received, parts[0])
	case ok && (len(parts) == 1 || len(parts) == 2) && parts[len(parts)-1] != "":
		s.serveOther(w, r, received, func() {
			allow := http.MethodGet
			if len(parts) == 2 {
				allow = http.MethodPost
			}
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed", 0)
		})
	default:
		s.serveOther(w, r, received, func() { writeError(w, http.StatusNotFound, "not found: "+r.URL.Path, 0) })
	}
}

// arrival is what a request found on arriving: its scripted answer, if
// any, and the state it is to be answered with.
type arrival struct {
	answer   Answer
	scripted bool
	key      string
	latency  time.Duration
	down     bool
}

// arrive counts a request and takes its arrival state.
func (s *Server) arrive(path, recipient string, isSend bool, at time.Time) arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.calls[path]++
	if isSend && recipient != "" {
		s.callsFor[recipient]++
		if _, ok := s.firstCall[recipient]; !ok {
			s.firstCall[recipient] = at
		}
	}
	a, scripted := s.popScript(path, recipient)
	return arrival{answer: a, scripted: scripted, key: s.apiKey, latency: s.latency, down: s.down}
}

// pause waits d, or until the request or the sandbox ends, and aborts the
// handler then (no answer is better than an empty 200).
func (s *Server) pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		panic(http.ErrAbortHandler)
	case <-s.ctx.Done():
		panic(http.ErrAbortHandler)
	}
}

// prelude runs what every request goes through before it is handled: the
// latency and delay, the scripted answer, the down state and the key. It
// reports whether the request was answered (or dropped). Only a send may
// be let through by Answer.Accept.
func (s *Server) prelude(w http.ResponseWriter, r *http.Request, ar arrival, isSend bool) bool {
	a := ar.answer
	s.pause(r.Context(), ar.latency+a.Delay)
	if ar.scripted {
		if a.Drop && (!a.Accept || !isSend) {
			panic(http.ErrAbortHandler)
		}
		if a.Status != 0 && !a.Drop {
			writeScripted(w, a)
			return true
		}
	}
	if ar.down {
		writeError(w, http.StatusServiceUnavailable, "Service Unavailable", 0)
		return true
	}
	if ar.key == "" || r.Header.Get("x-api-key") != ar.key {
		writeError(w, http.StatusUnauthorized, "Unauthorized: missing or invalid x-api-key", 0)
		return true
	}
	return false
}

// serveOther answers a request to no endpoint, after the prelude.
func (s *Server) serveOther(w http.ResponseWriter, r *http.Request, received time.Time, answer func()) {
	if s.prelude(w, r, s.arrive(r.URL.Path, "", false, received), false) {
		return
	}
	answer()
}

// serveSend serves POST /v1/messages/{channel}/{op}.
func (s *Server) serveSend(w http.ResponseWriter, r *http.Request, received time.Time, ch tasks.Channel, op string, body []byte) {
	var req sendRequest
	decodeErr := decodeStrict(body, &req)
	recipient := req.recipient()
	ar := s.arrive(r.URL.Path, recipient, true, received)
	if s.prelude(w, r, ar, true) {
		return
	}
	kind, known := kindOf(op)
	if !known || !slices.Contains(tasks.Channels, ch) {
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path, 0)
		return
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large", invalidCode)
		return
	}
	if decodeErr != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+decodeErr.Error(), invalidCode)
		return
	}
	if reason := validate(ch, kind, &req); reason != "" {
		writeError(w, http.StatusBadRequest, reason, invalidCode)
		return
	}

	now := s.now()
	s.mu.Lock()
	var c *contact
	switch {
	case req.Contact != nil:
		c = s.contactByID(req.Contact.ID)
	case req.Client != nil:
		c = s.contactByID(req.Client.ID)
	default:
		c = s.contactByPhone(req.Recepient.PhoneNumber)
	}
	if kind != tasks.KindTemplate && ch != tasks.Telegram && !s.open(c, ch, now) {
		s.mu.Unlock()
		if ch == tasks.WhatsApp {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: errorDetail{Message: windowMessage, Code: ptr(131047)}})
		} else {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: errorDetail{Message: metaWindowMsg, Code: ptr(10), Subcode: 2018278}})
		}
		return
	}
	s.nextMessage++
	id := string(ch) + "-" + strconv.FormatUint(s.nextMessage, 10)
	c.msgs = append(c.msgs, outgoing(id, ch, kind, &req, now))
	s.sent = append(s.sent, Sent{Channel: ch, Kind: kind, Path: r.URL.Path, Recipient: recipient, ContactID: c.id,
		UpstreamID: id, Body: json.RawMessage(body), At: received})
	s.mu.Unlock()

	if ar.scripted && ar.answer.Drop { // Accept: the send went out, its answer is lost
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"success":true,"data":{"id":"`+id+`","messageId":"`+id+`"}}`)
}

// outgoing is the history entry of an accepted send.
func outgoing(id string, ch tasks.Channel, kind tasks.Kind, req *sendRequest, at time.Time) message {
	m := message{id: id, channel: ch, status: "sent", at: at, typ: string(kind)}
	switch kind {
	case tasks.KindText:
		m.text = deref(req.TextMessage)
	case tasks.KindMedia:
		m.mediaURL, m.caption = deref(req.MediaURL), deref(req.Caption)
		m.typ = mediaType(deref(req.MimeType))
	case tasks.KindTemplate:
		switch {
		case req.Template != nil:
			m.text = req.Template.Name
		case req.TextMessage != nil:
			m.text = *req.TextMessage
		case len(req.Elements) > 0:
			m.text = req.Elements[0].Title
		}
	}
	return m
}

// mediaType is the message type of a MIME type, as WhatsApp names them.
func mediaType(mime string) string {
	major, _, _ := strings.Cut(mime, "/")
	switch major {
	case "image", "video", "audio":
		return major
	}
	return "document"
}

// kindOf maps an endpoint's last segment to its kind.
func kindOf(op string) (tasks.Kind, bool) {
	switch op {
	case "sendtext":
		return tasks.KindText, true
	case "sendmedia":
		return tasks.KindMedia, true
	case "sendtemplate":
		return tasks.KindTemplate, true
	}
	return "", false
}

// decodeStrict decodes one JSON object with no unknown fields.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// validate checks a send against its endpoint's rules; "" when it passes.
func validate(ch tasks.Channel, kind tasks.Kind, r *sendRequest) string {
	n := 0
	if r.Contact != nil {
		if strings.TrimSpace(r.Contact.ID) == "" {
			return "contact.id is required"
		}
		n++
	}
	if r.Client != nil {
		if strings.TrimSpace(r.Client.ID) == "" {
			return "client.id is required"
		}
		n++
	}
	if r.Recepient != nil {
		p := r.Recepient.PhoneNumber
		if p == "" {
			return "recepient.phoneNumber is required"
		}
		if digitsOf(p) != p {
			return "recepient.phoneNumber must be digits only, without + or spaces"
		}
		if len(p) < 7 || len(p) > 15 {
			return "recepient.phoneNumber must have 7 to 15 digits"
		}
		n++
	}
	switch {
	case n == 0:
		return "one of contact, client or recepient is required"
	case n > 1:
		return "only one of contact, client or recepient may be given"
	}
	if r.Location != nil && strings.TrimSpace(r.Location.ID) == "" {
		return "location.id is required"
	}
	if f := foreignField(ch, kind, r); f != "" {
		return f + " is not accepted by /v1/messages/" + string(ch) + "/send" + string(kind)
	}

	switch kind {
	case tasks.KindText:
		return checkText(r.TextMessage)
	case tasks.KindMedia:
		if reason := checkURL("mediaUrl", deref(r.MediaURL), true); reason != "" {
			return reason
		}
		if mt := deref(r.MimeType); mt == "" || !strings.Contains(mt, "/") {
			return "mimeType is required (e.g. image/jpeg)"
		}
		if ch == tasks.Telegram && utf8.RuneCountInString(deref(r.Caption)) > maxCaption {
			return "caption exceeds 1024 characters"
		}
		return ""
	}
	switch ch {
	case tasks.WhatsApp:
		if r.Template == nil || strings.TrimSpace(r.Template.Name) == "" {
			return "template.name is required"
		}
		if strings.TrimSpace(r.Template.Language) == "" {
			return "template.language is required"
		}
		return checkURL("headerMediaUrl", deref(r.HeaderMediaURL), false)
	case tasks.Telegram:
		if reason := checkText(r.TextMessage); reason != "" {
			return reason
		}
		for i, b := range r.Buttons {
			if strings.TrimSpace(b.Text) == "" {
				return "buttons[" + strconv.Itoa(i) + "].text is required"
			}
		}
		return ""
	}
	if len(r.Elements) == 0 {
		return "elements is required (at least one generic card)"
	}
	if len(r.Elements) > maxElements {
		return "elements may hold at most 10 cards"
	}
	for i, e := range r.Elements {
		if strings.TrimSpace(e.Title) == "" {
			return "elements[" + strconv.Itoa(i) + "].title is required"
		}
		for j, b := range e.Buttons {
			at := "elements[" + strconv.Itoa(i) + "].buttons[" + strconv.Itoa(j) + "]"
			switch b.Type {
			case "web_url":
				if reason := checkURL(at+".url", b.URL, true); reason != "" {
					return reason
				}
			case "postback":
				if b.Payload == "" {
					return at + ".payload is required"
				}
			default:
				return at + ".type must be web_url or postback"
			}
			if b.Title == "" {
				return at + ".title is required"
			}
		}
	}
	return ""
}

// foreignField names a field the endpoint does not document; "" if none.
func foreignField(ch tasks.Channel, kind tasks.Kind, r *sendRequest) string {
	type field struct {
		name    string
		present bool
	}
	fields := []field{
		{"textMessage", r.TextMessage != nil},
		{"mediaUrl", r.MediaURL != nil},
		{"mimeType", r.MimeType != nil},
		{"caption", r.Caption != nil},
		{"template", r.Template != nil},
		{"headerMediaUrl", r.HeaderMediaURL != nil},
		{"headerTextParameters", r.HeaderTextParameters != nil},
		{"bodyTextParameters", r.BodyTextParameters != nil},
		{"buttonUrlParameters", r.ButtonURLParameters != nil},
		{"buttons", r.Buttons != nil},
		{"elements", r.Elements != nil},
	}
	var allowed []string
	switch kind {
	case tasks.KindText:
		allowed = []string{"textMessage"}
	case tasks.KindMedia:
		allowed = []string{"mediaUrl", "mimeType"}
		if ch == tasks.WhatsApp || ch == tasks.Telegram {
			allowed = append(allowed, "caption")
		}
	case tasks.KindTemplate:
		switch ch {
		case tasks.WhatsApp:
			allowed = []string{"template", "headerMediaUrl", "headerTextParameters", "bodyTextParameters", "buttonUrlParameters"}
		case tasks.Telegram:
			allowed = []string{"textMessage", "buttons"}
		default:
			allowed = []string{"elements"}
		}
	}
	for _, f := range fields {
		if f.present && !slices.Contains(allowed, f.name) {
			return f.name
		}
	}
	return ""
}

func checkText(p *string) string {
	t := deref(p)
	if strings.TrimSpace(t) == "" {
		return "textMessage is required"
	}
	if utf8.RuneCountInString(t) > maxText {
		return "textMessage exceeds 4096 characters"
	}
	return ""
}

// checkURL checks an https URL; an empty one passes unless required.
func checkURL(name, s string, required bool) string {
	if s == "" {
		if required {
			return name + " is required"
		}
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return name + " must be an https URL"
	}
	return ""
}

// serveMessages serves GET /v1/messages/{contactId}.
func (s *Server) serveMessages(w http.ResponseWriter, r *http.Request, received time.Time, rawID string) {
	id, err := url.PathUnescape(rawID)
	if err != nil {
		id = rawID
	}
	if s.prelude(w, r, s.arrive(r.URL.Path, id, false, received), false) {
		return
	}
	q := r.URL.Query()
	page, ok := intParam(q.Get("page"), 1)
	if !ok {
		writeError(w, http.StatusBadRequest, "page must be a whole number from 1", invalidCode)
		return
	}
	limit, ok := intParam(q.Get("limit"), defaultLimit)
	if !ok {
		writeError(w, http.StatusBadRequest, "limit must be a whole number from 1", invalidCode)
		return
	}
	limit = min(limit, maxLimit)

	s.mu.Lock()
	var all []wireMessage
	if c := s.contacts[id]; c != nil {
		all = make([]wireMessage, 0, len(c.msgs))
		// Newest first: latest timestamp first, later arrivals first on a tie.
		order := make([]int, len(c.msgs))
		for i := range order {
			order[i] = len(c.msgs) - 1 - i
		}
		slices.SortStableFunc(order, func(x, y int) int { return c.msgs[y].at.Compare(c.msgs[x].at) })
		for _, i := range order {
			all = append(all, wire(c, c.msgs[i]))
		}
	}
	s.mu.Unlock()

	data := []wireMessage{}
	if start := (page - 1) * limit; start < len(all) && start >= 0 {
		data = all[start:min(start+limit, len(all))]
	}
	writeJSON(w, http.StatusOK, struct {
		Data  []wireMessage `json:"data"`
		Page  int           `json:"page"`
		Limit int           `json:"limit"`
		Total int           `json:"total"`
	}{data, page, limit, len(all)})
}

// intParam reads a positive whole number, def when absent.
func intParam(s string, def int) (int, bool) {
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, false
	}
	return n, true
}

// errorBody is the sandbox's error answer: {"error": {"message", "code"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string `json:"message"`
	Code    *int   `json:"code,omitempty"`
	Subcode int    `json:"error_subcode,omitempty"`
}

// writeError answers with an error body; code 0 leaves the code out.
func writeError(w http.ResponseWriter, status int, msg string, code int) {
	d := errorDetail{Message: msg}
	if code != 0 {
		d.Code = ptr(code)
	}
	writeJSON(w, status, errorBody{Error: d})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeScripted writes a scripted answer.
func writeScripted(w http.ResponseWriter, a Answer) {
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	body := a.Body
	if body == "" {
		if a.Status >= 200 && a.Status <= 299 {
			body = `{"success":true}`
		} else {
			b, _ := json.Marshal(errorBody{Error: errorDetail{Message: http.StatusText(a.Status)}})
			body = string(b)
		}
	}
	if t := strings.TrimSpace(body); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(a.Status)
	_, _ = io.WriteString(w, body)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ptr[T any](v T) *T { return &v }
