package admin

import "time"

// SetClock replaces the clock that tokens are issued and checked against,
// so that a test can move past a token's expiry without sleeping.
func SetClock(t *Tokens, now func() time.Time) { t.now = now }
