package admin

import "time"

// CredentialStateText is a credential's state as the CLI's tables and the
// TUI show it: the token of the JSON field health.state (healthy,
// cooling_down, invalid, disabled, broken, quota_exhausted, budget_exhausted), then what goes
// with it — "cooling_down until 14:03:10" while a time out runs; once it has
// ended, "cooling_down · trial pending" (or "invalid · trial pending": the
// next request is its trial) and "quota_exhausted · reset" (the window has
// reset; the next answer says whether it holds). clock writes a time. Short
// enough for the TUI's 80 columns.
func CredentialStateText(state string, until, now time.Time, clock func(time.Time) string) string {
	switch {
	case until.IsZero() || state != "cooling_down" && state != "invalid" && state != "quota_exhausted" && state != "budget_exhausted":
		return state
	case until.After(now):
		return state + " until " + clock(until)
	case state == "quota_exhausted":
		return state + " · reset"
	}
	return state + " · trial pending"
}
