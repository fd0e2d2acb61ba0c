// Package api serves sendq's HTTP API under /api/v1/ (README "HTTP API"):
// one message or a batch of up to 1,000, outcome look-ups, a contact's
// messages, campaign uploads and control, a Server-Sent Events stream of
// outcome changes, and the OpenAPI 3.1 document that describes all of them.
//
// The package knows sendq only through [Backend], which the command wires to
// the producer and its stores; every request is authorised by a bearer token
// that reaches every account (Config.Token) or one account
// (accounts.Account.APIToken). Errors are RFC 9457 problem details naming
// each invalid field in the words of tasks.ValidationError, and a request
// refused for invalid input enqueues nothing.
package api
