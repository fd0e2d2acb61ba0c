// Package tasks defines sendq's messages and how they travel through the queue.
//
// A [Message] is one send: who receives it ([Recipient]: a Whautomate contact, a
// client, or a phone number with an optional name), on which [Channel]
// (WhatsApp, Telegram, Instagram or Messenger), and what it carries: exactly
// one of a text, a [Media] file or a [Template], as named by its [Kind].
//
// Every message is an asynq task whose type is
//
//	send:<channel>:<kind>
//
// which gives twelve task types, from send:whatsapp:text to
// send:messenger:template (see [TypeName] and [Types]). The payload is the
// message as compact JSON, written by [Encode] and read by [Decode] or
// [DecodeTask]; both validate, so nothing invalid is ever enqueued and nothing
// invalid reaches the API.
//
// The message's ID is its idempotency key and also the asynq task id: the same
// ID is sent at most once for as long as its outcome is kept.
//
// [Message.Validate] normalises a message in place (phone numbers to digits,
// channel and kind to lower case, ids trimmed, times to UTC) and reports the
// first problem as a [*ValidationError] naming the field, which matches
// [ErrInvalid] under errors.Is.
//
// The package is pure: no Redis, no HTTP, no clock.
package tasks
