// Package compliance holds the rules that protect a sender's number, as pure
// functions of their inputs (no Redis, no clock of its own):
//
//   - [QuietHours] and its [QuietHours.Release]: when a marketing message may
//     go, in the recipient's local time, across every zone a number may be in
//     and across daylight-saving days;
//   - [Zones]: the time zones a phone number may be in (the data of
//     github.com/nyaruka/phonenumbers, a port of Google's libphonenumber);
//   - [Keywords]: the opt-out and opt-in keywords that an incoming message
//     may be, and [Keywords.Match].
//
// The stores that keep state for these rules (the opt-out list, the
// messaging-limit count) live in sendq's internal packages.
package compliance
