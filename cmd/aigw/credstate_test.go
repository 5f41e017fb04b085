package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/scheduler"
)

// The STATE cell is the JSON's state token and its detail, and current: a
// cool-down that ended reads "cooling_down · trial pending", not
// "cooling_down until" a past time.
func TestCredentialStateCellIsCurrent(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		state string
		until time.Time
		want  string
	}{
		{"healthy", time.Time{}, "healthy"},
		{"cooling_down", now.Add(time.Minute), "cooling_down until " + clockTime(now.Add(time.Minute), now)},
		{"cooling_down", now.Add(-time.Second), "cooling_down · trial pending"},
		{"invalid", now.Add(-time.Minute), "invalid · trial pending"},
		{"quota_exhausted", now.Add(-time.Second), "quota_exhausted · reset"},
		{"quota_exhausted", now.Add(time.Hour), "quota_exhausted until " + clockTime(now.Add(time.Hour), now)},
		{"disabled", time.Time{}, "disabled"},
		{"broken", time.Time{}, "broken"},
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

// A real credential cooled down by an upstream 429, then disabled: the
// table's STATE starts with the token `-o json` has in health.state.
func TestCredentialStateTableAndJSONSpellTheSame(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	_, secret := provisioned(t, g, fake, "--max-retries", "0")
	fake.Program(proxytest.Rule{Status: http.StatusTooManyRequests, RetryAfter: "120", Times: 1})
	if r := post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+secret, chatJSON); r.status != http.StatusTooManyRequests {
		t.Fatalf("upstream 429: client got %d", r.status)
	}
	for _, want := range []string{"cooling_down", "disabled"} {
		var creds []admin.Credential
		g.okJSON(t, &creds, "credential", "list")
		if len(creds) != 1 || creds[0].Health == nil || creds[0].Health.State != want {
			t.Fatalf("credential list -o json: %+v, want health.state %q", creds, want)
		}
		table := g.ok(t, "credential", "list")
		row := strings.Split(strings.TrimSpace(table), "\n")[1]
		if !strings.Contains(row, "  "+want+" ") && !strings.Contains(row, "  "+want+"\t") {
			t.Errorf("credential list table, state %s: %q", want, row)
		}
		if want == "cooling_down" && !strings.Contains(row, "cooling_down until ") {
			t.Errorf("a running cool-down shows no end: %q", row)
		}
		show := g.ok(t, "credential", "show", creds[0].ID)
		if !strings.Contains(show, "state:") || !strings.Contains(show, " "+want) {
			t.Errorf("credential show, state %s:\n%s", want, show)
		}
		g.ok(t, "credential", "disable", creds[0].ID)
	}
}
