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
		{"cooling_down", now.Add(time.Minute), "cooling_down until " + clockTime(now.Add(time.Minute), now)},
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

// Times in tables carry the date when they are not today's.
func TestClockTimeCarriesTheDateWhenNotToday(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.Local)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{now.Add(-time.Hour), "11:00:00"},
		{now.Add(-13 * time.Hour), "2026-12-01 23:00:00"},
		{now.Add(24 * time.Hour), "2026-12-03 12:00:00"},
	} {
		if got := clockTime(tc.t, now); got != tc.want {
			t.Errorf("clockTime(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}
