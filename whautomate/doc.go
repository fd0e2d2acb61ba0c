// Package whautomate is the client of Whautomate's REST API (the Messages
// API: one method per endpoint), its typed errors, and the classification of
// their outcomes into what the worker does next.
//
//	c, err := whautomate.New(whautomate.Config{APIKey: key})
//	res, err := c.Send(ctx, &msg)
//	switch whautomate.Classify(err) {
//	case whautomate.Sent:          // res.ID is the upstream message id
//	case whautomate.RateLimited:   // wait whautomate.RetryAfter(err)
//	case whautomate.SessionClosed: // park until the contact writes
//	…
//	}
//
// What is known about the API, and what is not, is written down in
// docs/whautomate-api.md. Every assumption about the upstream lives in this
// package, is marked "ASSUMPTION" where it is made, and is tested against
// the sandbox in package whautomatetest:
//
//   - Request bodies (send.go): the recipient as contact {id}, client {id} or
//     recepient {phoneNumber, name} (name left out when empty; the phone
//     reduced to digits); location {id} when Config.LocationID is set; the
//     caption sent to WhatsApp and Telegram only (Instagram and Messenger
//     document none); Telegram template buttons with the Bot API's names
//     (text, url, callback_data); Instagram and Messenger cards with Meta's
//     generic-template names (title, subtitle, image_url, buttons of type
//     web_url or postback).
//   - Send response (response.go, parseSendResponse): the message id is in
//     id, messageId, data.id or data.messageId, as a string or a number; a
//     2xx without one is a success with an empty SendResult.ID.
//   - Failures in a 2xx (response.go, failedInBody): a non-empty "error" or
//     "success": false.
//   - Error bodies (response.go, newAPIError): the reason in error (string
//     or object with message and error_data.details), errors[0], message,
//     description; the code in error.code, errors[0].code, code or
//     error_code, Meta's subcode in error_subcode, else a "(#123)" prefix of
//     the message; a code equal to the HTTP status is not an upstream code.
//   - Rate limits (response.go, headerRetryAfter and bodyRetryAfter):
//     Retry-After in seconds or as an HTTP date, else Telegram-style
//     retry_after (also under parameters); the header wins; waits are
//     capped at 24 h.
//   - Message objects and pages (message.go, ParseMessage and
//     parseMessagePage): shaped like the webhook's message, with the list at
//     the top level or under data, messages or data.messages, and the loose
//     types the webhook shows (isIncoming as "true", channels in any case,
//     timestamps as RFC 3339 or unix seconds/milliseconds, as number or
//     string).
//   - Webhook events (event.go, ParseEvent): the message object read as
//     above; the channel, else from the event type; the direction, else
//     from the type's "incoming_" prefix; the time, else event.timeStamp.
//     One rule for channel names (channelOf) and one for times (parseTime)
//     serve messages, pages and events alike.
//   - Idempotency (client.go, Client.do): none is documented, so a send
//     whose request was written and got no answer is ambiguous; the client
//     never retries by itself, and TransportError.Sent tells the two cases
//     apart. Redirects are not followed.
//   - Session-closed wording (classify.go, sessionClosedText): Meta's texts
//     passed through, or "outside the 24-hour window" and similar.
//   - Classification extras (classify.go, Classify): 408 is a timeout
//     (Transient); a code 429 is RateLimited; a 2xx failure or a 3xx with no
//     known code is Transient (bounded retries).
//
// The API key is sent only in the x-api-key header and is redacted from
// every error message, including upstream reasons that quote it.
package whautomate
