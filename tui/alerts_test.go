package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
)

// An unseen alert of the last day puts a banner under the tab bar on every
// page; ! opens the Alerts view (newest first), which counts as seeing
// them; the banner comes back only for a newer alert.
func TestAlertsBannerAndView(t *testing.T) {
	m := newTestModel(t, nil)
	a1 := admin.Alert{ID: "alert_1", Time: testNow.Add(-time.Hour), Kind: "credential_invalid", Subject: "credential:cred_a",
		Message: "credential cred_a became invalid: upstream rejected the credential: 401"}
	a2 := admin.Alert{ID: "alert_2", Time: testNow.Add(-time.Minute), Kind: "budget_threshold", Subject: "key:key_a",
		Message: "key:key_a (app) reached 80% of its monthly_cost budget for 2025-06: $8.00 of $10.00"}
	send(m, alertsMsg{Alerts: []admin.Alert{a1, a2}})
	for _, page := range []string{"1", "3", "6"} {
		press(m, page)
		v := m.View()
		if got := strings.Split(v, "\n")[2]; !strings.Contains(got, "2 new alerts (! to view): key:key_a (app) reached 80%") {
			t.Errorf("page %s: line 3 = %q; want the alerts banner", page, got)
		}
		if n := strings.Count(v, "\n") + 1; n != 24 {
			t.Errorf("page %s with the banner: %d lines; want 24", page, n)
		}
	}

	press(m, "!")
	v := m.View()
	mustContain(t, v, "Alerts — the last 24 hours, newest first", "!/esc close alerts")
	mustNotContain(t, v, "new alert")
	if i, j := strings.Index(v, "budget_threshold"), strings.Index(v, "credential_invalid"); i < 0 || j < 0 || i > j {
		t.Errorf("the view does not list the newest first:\n%s", v)
	}
	mustContain(t, v, "11:59:00  budget_threshold", "11:00:00  credential_invalid")
	press(m, "esc")
	mustNotContain(t, m.View(), "new alert", "Alerts — the last")

	// A newer alert; its text, from an upstream, is made safe.
	a3 := admin.Alert{ID: "alert_3", Time: testNow, Kind: "model_unpriced", Subject: "model:x",
		Message: "model \"x\x1b]52;c;AAAA\x07\" was used without a price"}
	send(m, alertsMsg{Alerts: []admin.Alert{a1, a2, a3}})
	v = m.View()
	mustContain(t, v, "1 new alert (! to view): model")
	if strings.ContainsAny(v, "\x1b\x07") {
		t.Errorf("the banner passes terminal controls through: %q", v)
	}
	press(m, "!", "!")
	mustNotContain(t, m.View(), "new alert")

	// Alerts older than a day raise no banner in a new TUI.
	m = newTestModel(t, nil)
	old := a1
	old.Time = testNow.Add(-25 * time.Hour)
	send(m, alertsMsg{Alerts: []admin.Alert{old}})
	mustNotContain(t, m.View(), "new alert")
	press(m, "!")
	mustContain(t, m.View(), "credential_invalid")
}
