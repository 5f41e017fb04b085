package main

import (
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/scheduler"
)

// The STATE cell is current: a cool-down that ended reads "ready (trial
// pending)", not "cooling_down until" a past time.
func TestCredentialStateCellIsCurrent(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		state string
		until time.Time
		want  string
	}{
		{"healthy", time.Time{}, "healthy"},
		{"cooling_down", now.Add(time.Minute), "cooling_down until " + now.Add(time.Minute).Local().Format("15:04:05")},
		{"cooling_down", now.Add(-time.Second), "ready (trial pending)"},
		{"invalid", now.Add(-time.Minute), "ready (trial pending)"},
		{"quota_exhausted", now.Add(-time.Second), "ready (quota reset)"},
	} {
		got, _, _ := healthCells(admin.Credential{Health: &scheduler.Status{State: tc.state, Until: tc.until}})
		if got != tc.want {
			t.Errorf("%s until %v: %q, want %q", tc.state, tc.until, got, tc.want)
		}
	}
}
