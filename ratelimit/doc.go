// Package ratelimit applies per-account budgets, per-channel and
// per-recipient rate limits, and cool-downs, shared by every worker process
// that uses the same Redis.
//
// # The algorithm: GCRA with reservation
//
// A request has up to three levels, broadest first: its scope (an account,
// whose budget every request of the account takes, whatever the channel),
// its key (a channel such as "whatsapp", with the channel's cap) and one
// recipient of the key (with a pace). Each limited level keeps one number in
// Redis: its theoretical arrival time (TAT),
// when the next event would be due if events went at exactly the limit. With
// emission interval T = Per/Rate and burst tolerance τ = (Burst−1)·T, a
// request at time now may go at t = max(now, TAT−τ), and taking that slot
// moves TAT to max(TAT, t)+T. Reserve does this like x/time/rate's Reserve,
// but in one Lua script on Redis, so that all processes share one schedule:
//
//   - t is the latest of what the budget, the channel and the recipient
//     allow; if t−now is within MaxWait (500 ms by default) every level's
//     schedule advances from t and the caller is told to wait t−now and act
//     (OK=true); otherwise none changes and the caller is told to come back
//     after t−now (OK=false), with the Reason of the level that asked for
//     it. One script decides every level: one round trip.
//     Reservation.At places t on the caller's clock, so that a slow answer
//     does not make the act late.
//   - Any run of events so placed puts at most Rate+Burst−1 of them in any
//     window [a, a+Per): with Burst 1 at 50/s, slots are exactly 20 ms apart.
//     This holds for the reserved times whatever the order requests arrive in
//     or which process sends them. A budget of 300/m is one slot every
//     200 ms: at most 300 in any minute [a, a+1m) and 5 in any second
//     (6 where both ends fall on a slot), within the ceil(300/60)+1 that
//     README "Accounts" promises; 60/m is one a second (at most 2 in a
//     closed second), 1000/m one every 60 ms (at most 17).
//   - A recipient that is not free when the channel's next slot is would,
//     if its slot were taken, move the channel's schedule past that slot and
//     leave the gap unused for every other recipient (a busy contact slowing
//     a whole channel). Such a request is refused (OK=false, Delay the
//     recipient's wait, Reason recipient_rate) and nothing is committed; the
//     caller waits that long, in place or rescheduled, and asks again. With
//     no channel limit there is nothing to waste, and the recipient's slot is
//     reserved as usual. Likewise a channel (or a recipient) not free when
//     the account's budget is: it would waste budget for the account's
//     other channels, and is refused (Reason rate).
//
// Time is kept in whole microseconds; an interval that is not a whole number
// of them is rounded up, so a limit never runs faster than it says.
//
// # Why Redis TIME
//
// The script reads the clock with Redis's TIME rather than taking it from the
// caller. Hosts' clocks differ by milliseconds or more, which at 300/s is
// several slots: a process whose clock runs behind would find old slots free
// and take them again. One clock, Redis's, makes every process's requests
// comparable, and unit tests drive it with miniredis's SetTime.
//
// # Keys
//
// An unscoped key carries the hash tag of Config.Prefix ({sendq} by
// default); a scope's keys carry one of their own ({sendq:a:<scope>}), so
// that the keys of one script share a Redis Cluster slot and Cluster spreads
// the accounts over its masters (lua.go lists the keys). Every key expires
// by itself once it no longer matters: a schedule at its TAT, a cool-down at
// its end, a penalty count an hour after the last penalty.
//
// # Cool-downs
//
// Cooldown holds a Target for a while in every process (after a 429 with
// Retry-After): a whole scope (every request of the account, any channel:
// Reason account_cooldown), a key, or one recipient of a key. Reserve
// answers OK=false with the time left and reserves nothing. A cool-down is
// extended, never shortened. Reserve checks them even when every limit is
// zero, so a caller with limits off still honours a 429. PenalizeRecipient
// sets growing cool-downs on one recipient for WhatsApp's pair rate limit
// (Meta error 131056): 1 s, 4 s, 16 s, … up to an hour. CooldownLeft is the
// cheap check to make after sleeping on a reservation, in case a cool-down
// began meanwhile.
//
// # The local front
//
// Before asking Redis, Reserve asks a small in-process front per key, and
// one per scope for its budget, whether the answer is surely "wait": a
// cool-down or a refusal Redis reported recently that still holds, or more
// grants taken by this process alone, as counted by an x/time/rate.Limiter
// at the key's (or budget's) rate with a burst of MaxWait×rate+Burst, than
// Redis could give within MaxWait. Then it answers OK=false itself, without
// a round trip (Stats counts both). The front never grants a slot, so it
// cannot let through more than Redis allows; it only spares Redis the
// requests Redis would refuse. Its bounds allow for the latest round-trip
// time to Redis, so a refusal it gives is one Redis would give, and its
// Delay is no longer than Redis's.
package ratelimit
