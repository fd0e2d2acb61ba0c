package whautomatetest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sendq/sendq/tasks"
)

const (
	windowMessage = "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
	metaWindowMsg = "(#10) This message is sent outside of allowed window."
)

// serveSend serves POST /v1/messages/{channel}/{op}.
func (s *Server) serveSend(w *recorder, r *http.Request, received time.Time, ch tasks.Channel, op string, body []byte) {
	var req sendRequest
	decodeErr := decodeStrict(body, &req)
	recipient := req.recipient()
	kind, known := kindOf(op)
	known = known && slices.Contains(tasks.Channels, ch)
	v := visit{path: r.URL.Path, recipient: recipient, send: true, received: received}
	if known {
		v.channel = ch
	}
	ar := s.arrive(w, r, v)
	if s.prelude(w, r, ar) {
		return
	}
	if !known {
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
