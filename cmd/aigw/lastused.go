package main

import (
	"fmt"
	"time"
)

// lastUsedText is a key's last use for tables, relative to now: "3m ago",
// "never"; past two days, the date.
func lastUsedText(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	switch d := now.Sub(*t); {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmtTime(*t)
}
