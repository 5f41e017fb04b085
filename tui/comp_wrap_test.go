package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
)

const dialErr = "dial tcp 127.0.0.1:1: connect: connection refused"

// A trace whose error, path and model are longer than the screen is wide,
// with attempts that failed the same way.
func longTrace() admin.Trace {
	tr := fixtureTraces()[8]
	tr.RequestID = "reqlong000000"
	tr.Error = "upstream: " + dialErr + " (after 3 attempts on every credential of the pool)"
	tr.Path = "/openai/deployments/my-company-gpt-4o-2024-08-06-eastus/chat/completions?api-version=2024-10-21"
	tr.Model = "ft:gpt-4o-mini-2024-07-18:my-company:support-replies-v7:AbCdEfGh"
	tr.Status = 0
	for i := range tr.Attempts {
		tr.Attempts[i].Status, tr.Attempts[i].Error = 0, dialErr
	}
	return tr
}

// At 80×24 the trace details wrap long values onto the following lines,
// indented under the value, instead of cutting them; the view scrolls to
// the last attempt.
func TestTraceDetailWrapsLongValues(t *testing.T) {
	m := newTestModel(t, nil)
	send(m, traceMsg{Traces: []admin.Trace{longTrace()}})
	press(m, "2", "enter")
	v := m.View()
	checkFits(t, v, 80, 24)
	mustShowWhole(t, v,
		"error upstream: "+dialErr+" (after 3 attempts on every credential of the pool)",
		"POST /anthropic/openai/deployments/my-company-gpt-4o-2024-08-06-eastus/chat/completions?api-version=2024-10-21",
		"ft:gpt-4o-mini-2024-07-18:my-company:support-replies-v7:AbCdEfGh")
	// The error's next line starts under the value.
	lines := strings.Split(v, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "error ") {
			if next := lines[i+1]; !strings.HasPrefix(next, strings.Repeat(" ", 15)) || strings.TrimSpace(next) == "" {
				t.Errorf("the error's second line is not under its value: %q", next)
			}
		}
	}
	// Scrolling reaches the last attempt, whose error is whole.
	press(m, "pgdown", "pgdown")
	v = m.View()
	mustContain(t, v, "3. cred_anthropic3")
	mustShowWhole(t, v[strings.Index(v, "3. cred_anthropic3"):], "no answer 10.0s "+dialErr)
	checkFits(t, v, 80, 24)
}

// The details under a list wrap too: a credential's long last error is
// shown whole, and the table gives up the rows it takes.
func TestListDetailsWrapLongValues(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "4")
	msg := fixtureCredentials()
	msg.Credentials[0].Health.LastError = "upstream: " + dialErr + " while refreshing the OAuth token at https://console.anthropic.com/v1/oauth/token"
	send(m, msg)
	v := m.View()
	checkFits(t, v, 80, 24)
	mustShowWhole(t, v, "last error upstream: "+dialErr+" while refreshing the OAuth token at https://console.anthropic.com/v1/oauth/token")
	mustContain(t, v, "cred_openai4") // every row still shown
	line := screenLine(v, "last error")
	lines := strings.Split(v, "\n")
	for i, l := range lines {
		if l == line && !strings.HasPrefix(lines[i+1], strings.Repeat(" ", detailIndent)) {
			t.Errorf("the last error's second line is not under its value: %q", lines[i+1])
		}
	}
}

// mustShowWhole checks that view shows each of wants, maybe wrapped: it
// compares the screen's characters with every space and line break taken
// out (a value wraps after a hyphen or a slash as well as at a space).
func mustShowWhole(t *testing.T, view string, wants ...string) {
	t.Helper()
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), "") }
	for _, w := range wants {
		if !strings.Contains(squeeze(view), squeeze(w)) {
			t.Errorf("the screen does not show %q whole:\n%s", w, view)
		}
	}
}

// The long trace's details as a user sees them, at both golden sizes.
func TestGoldenTraceDetailWrapped(t *testing.T) {
	for _, size := range goldenSizes {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := newTestModel(t, nil)
			send(m, tea.WindowSizeMsg{Width: size[0], Height: size[1]}, streamOpenMsg{}, traceMsg{Traces: []admin.Trace{longTrace()}})
			press(m, "2", "enter")
			golden.RequireEqual(t, []byte(m.View()))
		})
	}
}
