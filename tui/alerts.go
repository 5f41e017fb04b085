package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// Alerts: every status poll also reads the last day's alerts. While the
// newest of them has not been seen, a one-line banner under the tab bar
// says so on every page; `!` opens the Alerts view (which counts as
// seeing them) and `!` or esc closes it. What was seen is the TUI's own:
// a new TUI shows the banner again for an alert of the last 24 hours.

// alertsRecent is how far back the TUI reads alerts, and how long one
// keeps the banner up.
const (
	alertsRecent = 24 * time.Hour
	alertsShown  = 100
)

type alertsMsg struct {
	Alerts []admin.Alert
	Err    error
}

func pollAlerts(c *common) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		list, err := c.client.Alerts(ctx, admin.AlertQuery{Since: alertsRecent.String(), Limit: alertsShown})
		return alertsMsg{Alerts: list, Err: err}
	}
}

// alertState is what the root model knows of the alerts.
type alertState struct {
	list []admin.Alert // oldest first, as the API sends them
	seen string        // id of the newest alert seen in the Alerts view
	open bool
}

// unseen counts the recent alerts newer than the last one seen.
func (a *alertState) unseen(now time.Time) int {
	n := 0
	for i := len(a.list) - 1; i >= 0 && a.list[i].ID != a.seen; i-- {
		if now.Sub(a.list[i].Time) > alertsRecent {
			break
		}
		n++
	}
	return n
}

func (a *alertState) markSeen() {
	if len(a.list) > 0 {
		a.seen = a.list[len(a.list)-1].ID
	}
}

// update handles the alerts' messages and, while the view is open, the
// keys; it reports whether it took msg.
func (a *alertState) update(k *KeyMap, msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case alertsMsg:
		if msg.Err == nil { // an older gateway has no alerts: nothing to show
			a.list = msg.Alerts
			if a.open {
				a.markSeen()
			}
		}
		return nil, true
	case tea.KeyMsg:
		if !a.open {
			return nil, false
		}
		switch {
		case key.Matches(msg, k.Quit), key.Matches(msg, k.ForceQuit):
			return nil, false
		case key.Matches(msg, k.Alerts), key.Matches(msg, k.Back):
			a.open = false
		}
		return nil, true
	}
	return nil, false
}

// banner is the header's line about unseen alerts ("" when none).
func (a *alertState) banner(c *common) string {
	n := a.unseen(c.now())
	if n == 0 {
		return ""
	}
	last := a.list[len(a.list)-1]
	text := fmt.Sprintf("%s (! to view): %s", plural(n, "1 new alert", fmt.Sprintf("%d new alerts", n)), last.Message)
	return banner{kind: bannerErr, text: text}.view(c.styles, c.width, 1)
}

// view is the Alerts view: the last day's alerts, newest first.
func (a *alertState) view(c *common) string {
	s := c.styles
	var b strings.Builder
	b.WriteString(s.Title.Render("Alerts") + s.Muted.Render(" — the last 24 hours, newest first · ! or esc closes") + "\n\n")
	if len(a.list) == 0 {
		b.WriteString(s.Muted.Render("No alerts. Budget thresholds, invalid credentials, pools without a healthy credential,\nmodels without a price and a trace writer falling behind show here."))
		return b.String()
	}
	kindW := 0
	for _, al := range a.list {
		kindW = max(kindW, len(al.Kind))
	}
	for i := len(a.list) - 1; i >= 0; i-- {
		al := a.list[i]
		b.WriteString(s.Muted.Render(c.clock(al.Time)) + "  " + s.Warn.Render(cell(oneLine(al.Kind), kindW, false)) + "  " + oneLine(al.Message) + "\n")
	}
	return b.String()
}
