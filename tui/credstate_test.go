package tui

import (
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/scheduler"
	tea "github.com/charmbracelet/bubbletea"
)

// A cool-down that has ended is not shown as "cooling_down until" a past
// time, and a credential that served nothing has no made-up figures.
func TestCredentialStateIsCurrent(t *testing.T) {
	m := credentialsModel(t)
	msg := fixtureCredentials()
	msg.Credentials = []admin.Credential{
		{ID: "cred_ended", Provider: "openai", Name: "ended", Kind: admin.KindAPIKey, Enabled: true,
			Health: &scheduler.Status{State: "cooling_down", Until: testNow.Add(-5 * time.Second), Requests: 9, Failures: 3, SuccessRate: 0.5}},
		{ID: "cred_reset", Provider: "openai", Name: "reset", Kind: admin.KindAPIKey, Enabled: true,
			Health: &scheduler.Status{State: "quota_exhausted", Until: testNow.Add(-time.Second), Requests: 4, SuccessRate: 1}},
		{ID: "cred_fresh", Provider: "openai", Name: "fresh", Kind: admin.KindAPIKey, Enabled: true,
			Health: &scheduler.Status{State: "healthy", SuccessRate: 1}},
	}
	send(m, msg)
	// The state is the JSON's token and its detail, as in the CLI. (At 80
	// columns today's fixed column widths cut STATE by a character or
	// three; the content-width layout of issue 14 item 5 gives it room.)
	send(m, tea.WindowSizeMsg{Width: 100, Height: 24})
	v := m.View()
	mustContain(t, screenLine(v, "cred_ended"), "cooling_down · trial pending")
	mustContain(t, screenLine(v, "cred_reset"), "quota_exhausted · reset")
	send(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	press(m, "down", "down")
	mustContain(t, screenLine(m.View(), "health "), "healthy · no requests yet")
	checkFits(t, m.View(), 80, 24)
}
