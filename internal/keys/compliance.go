package keys

// OptOut is the sorted set of an account's recipients who opted out on a
// channel: members are recipient keys ("c:<contact id>", "l:<client id>",
// "p:<digits>"), scored by the time of the opt-out (unix milliseconds).
func (s Space) OptOut(channel string) string { return s.prefix + "optout:" + channel }

// MessagingLimit is the sorted set of the recipients an account's
// conversation-opening WhatsApp templates reached, scored by when they were
// first counted (unix milliseconds), for the rolling 24 hours of the
// messaging limit.
func (s Space) MessagingLimit() string { return s.prefix + "msglimit" }

// MessagingLimitWaiting is the sorted set of the recipients of transactional
// templates that the messaging limit refused and that wait for a place,
// scored by when they were last refused (unix milliseconds): campaign
// templates leave them the free places.
func (s Space) MessagingLimitWaiting() string { return s.prefix + "msglimit:waiting" }
