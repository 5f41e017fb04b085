package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/scheduler"
	tea "github.com/charmbracelet/bubbletea"
)

// quotaCredentials: one credential whose requests window is used up, one
// with room in several windows, one with no announced windows.
func quotaCredentials() credentialsLoadedMsg {
	msg := fixtureCredentials()
	i64 := func(v int64) *int64 { return &v }
	f64 := func(v float64) *float64 { return &v }
	a := msg.Credentials[0].Health
	a.State, a.Until = "quota_exhausted", testNow.Add(40*time.Second)
	a.Reason = "requests window: 0 of 50 left"
	a.Quota = []scheduler.QuotaWindowStatus{
		{Window: "requests", Limit: i64(50), Remaining: i64(0), RemainingFraction: f64(0), Reset: testNow.Add(40 * time.Second), Exhausted: true},
	}
	b := msg.Credentials[2].Health
	b.Quota = []scheduler.QuotaWindowStatus{
		{Window: "tokens", Limit: i64(30000), Remaining: i64(3600), RemainingFraction: f64(0.12), Reset: testNow.Add(3 * time.Minute)},
		{Window: "unified_5h", Utilization: f64(0.42), Status: "allowed", RemainingFraction: f64(0.58), Reset: testNow.Add(2*time.Hour + 5*time.Minute)},
	}
	return msg
}

func TestCredentialsShowQuotaWindows(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "4")
	send(m, quotaCredentials())
	// (100 columns: at 80 today's fixed widths cut "quota_exhausted until
	// 12:00:40"; the content-width layout of issue 14 item 5 fits it.)
	send(m, tea.WindowSizeMsg{Width: 100, Height: 24})
	mustContain(t, screenLine(m.View(), "cred_anthropic1"), "quota_exhausted until 12:00:40")
	send(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	v := m.View()
	mustContain(t, screenLine(v, "cred_openai1"), "healthy · 12% left ↻3m")
	if line := screenLine(v, "cred_anthropic2"); !strings.Contains(line, "cooling_down until 12:00:40") || strings.Contains(line, "%") {
		t.Errorf("a credential without windows: %q", line)
	}
	checkFits(t, v, 80, 24)
	// The selected credential's details name every window.
	mustContain(t, v, "requests 0/50 (used up until 12:00:40)")
	press(m, "down", "down")
	mustContain(t, m.View(), "tokens 3600/30.0k ↻3m · unified_5h 42% used ↻2h5m")
}

func TestOverviewCountsQuotaExhausted(t *testing.T) {
	m := newTestModel(t, nil)
	st := fixtureStatus()
	st.Credentials["quota_exhausted"] = 1
	st.Out = append(st.Out, admin.OutCredential{ID: "cred_sub", State: "quota_exhausted", Until: testNow.Add(2 * time.Hour),
		Reason: "unified_5h window: 100% used"})
	send(m, statusMsg{Status: st})
	// Six states' counts do not fit 80 columns: they wrap, none is cut.
	mustContain(t, m.View(), "1 quota_exhausted", "1 invalid\n", "             1 disabled",
		"! cred_sub         quota_exhausted until 14:00:00  unified_5h window: 100% used")
}
