package keys

// Space is one account's key space. Every key of an account's state — its
// records, counts, events, campaigns, windows and waiting sets, compliance
// lists — starts with the account's own hash tag, so that Redis Cluster
// spreads accounts over its masters while one script may still touch
// several keys of one account atomically. Keys outside a Space are global:
// few, small and off the send path.
type Space struct{ prefix string }

// DefaultAccount is the account of a deployment configured by the
// WHAUTOMATE_* variables alone.
const DefaultAccount = "default"

// Account returns the key space of the account with that id. The default
// account keeps the prefix of sendq's single-account versions ("{sendq}:"),
// so that an upgrade finds every message those versions accepted.
func Account(id string) Space {
	if id == DefaultAccount || id == "" {
		return Space{Prefix}
	}
	return Space{"{sendq:a:" + id + "}:"}
}

// Prefix starts every key of the space; it ends with the hash tag and ":".
func (s Space) Prefix() string { return s.prefix }

// TaskID is the asynq task id of account's message id. The queues are
// shared by every account, and asynq's task ids are unique per queue, while
// a message id is its account's own: the id carries the account, except
// the default account's, which keeps the ids of the single-account versions.
func TaskID(account, messageID string) string {
	if account == DefaultAccount || account == "" {
		return messageID
	}
	return account + "/" + messageID
}
