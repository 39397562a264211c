"""Attempt counting in sliding windows: logins, password changes, refreshes, sign-ups.

Every count is a list of entries under an opaque key in a `FailureLog` (memory, SQL or
Redis), and each entry counts for exactly `window` after it happened. The rules are in
docs/throttling.md; in short:

* logins and password changes (`LoginThrottle`): failures per (account, client address),
  `max_failures` (``AUTHWARD_LOGIN_MAX_FAILURES``) in the window, reset by a success from
  that address; per client address across every account (``AUTHWARD_LOGIN_ADDRESS_MAX_
  FAILURES``), against password spraying; and per account from every address a higher
  ceiling (``AUTHWARD_LOGIN_ACCOUNT_MAX_FAILURES``, ten times the first by default), which
  slows a distributed guesser without letting one address lock the owner out;
* refreshes (`RefreshThrottle`): failures per client address and per presented token,
  never reset by a success (one good token must not buy an address more guesses);
* registrations (`RegistrationThrottle`): attempts per client address, whatever their
  outcome, so the count says nothing about which emails exist.

An attempt is counted *before* its work, atomically: `FailureLog.reserve` adds an entry
under every key only if each key is under its ceiling, in one step no concurrent attempt
can split (a transaction, or one Lua script per key). However many attempts arrive at
once, at most the ceiling get past it. The entry then stands for the attempt: a failure
leaves it where it is, a success gives it back (`Attempt.succeeded`), and so does an
attempt that ended before it was judged (a store that did not answer). A refused attempt
adds nothing, so refusals never push a count (an account's, say) further.

Keys are digests (of the normalised email, the address, the token): no log holds one.

Modules: `log` (the FailureLog protocol every store keeps), `window` (an attempt's
reservation and how it is settled), `policy` and `throttles` (what is counted, under
which keys), `keys`; one store per module: `memory`, `sql`, `redis`.
"""
