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
//   - All 13 endpoints, behind the x-api-key check: a missing, wrong or
//     revoked key answers 403 {"message": "Forbidden"}, as upstream
//     documents it. Several keys at once, each one account (Options.APIKey
//     and Options.Keys, AddKey at run time); RevokeKey and AcceptKey
//     revoke a key and take it back, SetAPIKey rotates APIKey's.
//   - Each account's minute budget (Options.Budget, KeyOptions.Budget; 300
//     upstream, 60 on a trial account): every request with the key counts —
//     the sends of every channel, the look-ups, a bad request, an unknown
//     path — and one that would make more than the budget arrive within
//     the last 60 s answers 429 {"message": "Too Many Requests"}, with a
//     Retry-After only if Options.RetryAfter429 asks for one. The window
//     slides over arrival times (by Options.Now), the strictest reading of
//     a limit upstream does not say is fixed or sliding.
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
// Where upstream is silent about the budget, the sandbox assumes:
//
//   - A refused request does not consume the budget: a 429, a 403 (no
//     account to charge) and a 503 while SetDown holds are not counted.
//   - A scripted answer (Script) is the account's answer and keeps its
//     precedence over the key check, the down state and the budget: it
//     takes a slot when its key is live and a slot is free, except a
//     scripted 429, which stands for a refusal, and a drop without Accept,
//     which never reached the account. A script thus answers even over the
//     budget, uncounted.
//   - The counts belong to the account: SetAPIKey keeps them, Reset does
//     not forget them.
//
// For tests it adds fault injection (Script, SetLatency, SetDown, the keys'
// methods) and observation: Sent (the accepted sends), Requests (every
// request with its key's account index — never the key —, path, channel,
// status, whether the budget counted it and its wall-clock arrival),
// Count429, CountStatus, BusiestWindow (the most counted requests of a key
// in any sliding span, e.g. a second or a minute), Calls, CallsFor,
// FirstCall and Reset. It is safe for concurrent use and keeps its locks
// short: it serves well over 10 000 requests a second.
package whautomatetest
