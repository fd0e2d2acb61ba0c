// Package whautomatetest is a sandbox of Whautomate's Messages API: an HTTP
// server that behaves as docs/whautomate-api.md describes, for tests and
// for `sendq demo`.
//
//	sb := whautomatetest.NewServer(whautomatetest.Options{})
//	defer sb.Close()
//	c, _ := whautomate.New(whautomate.Config{BaseURL: sb.URL(), APIKey: "test-key"})
//
// What it does, as the real service does:
//
//   - All 13 endpoints, behind the x-api-key check (401 when the key is
//     missing or wrong; SetAPIKey rotates or, with "", revokes it).
//   - Body validation per endpoint: exactly one recipient form, phone
//     numbers as digits only, textMessage of at most 4096 characters, an
//     https mediaUrl with a mimeType, a Telegram caption of at most 1024
//     characters, template name and language on WhatsApp, textMessage on
//     Telegram templates, elements (each with a title) on Instagram and
//     Messenger templates. A failure answers 400
//     {"error": {"message": reason, "code": 100}}.
//   - Contacts, known by contact id and by phone: a "recepient" send
//     creates or reuses the contact of that phone, a client id stands for a
//     contact of the same id, and an unknown contact id is taken as a
//     contact without history.
//   - The 24-hour window per channel and contact: WhatsApp text and media
//     outside it answer 400 with Meta's code 131047, Instagram and Messenger
//     with code 10 and subcode 2018278; templates always pass; Telegram has
//     no window. MarkInbound opens it, and posts Whautomate's webhook event
//     when Options.WebhookURL is set.
//   - GET /v1/messages/{contactId}: the contact's messages (incoming, and
//     the outgoing ones it accepted), newest first, paginated.
//
// A success always answers 200 {"success": true, "data": {"id": ID,
// "messageId": ID}}: one documented shape. The client's tolerance of other
// shapes is tested in package whautomate against hand-written answers.
//
// It is stricter than the real service is likely to be in one way on
// purpose: a field the endpoint does not document (a misspelt "recipient",
// a caption on Instagram) is a 400, since it is a bug in the client.
//
// For tests it adds fault injection (Script, SetLatency, SetDown) and
// observation (Sent, Calls, CallsFor, FirstCall, Reset). It is safe for
// concurrent use and keeps its locks short: it serves well over 10 000
// requests a second.
package whautomatetest
