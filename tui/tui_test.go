package tui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// activeTab is the tab the tab bar marks as active.
func activeTab(view string) string {
	first := strings.SplitN(view, "\n", 2)[0]
	start, end := strings.Index(first, "["), strings.Index(first, "]")
	if start < 0 || end < start {
		return ""
	}
	return first[start+1 : end]
}

func TestTabSwitching(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		want string
	}{
		{"opens on the overview", nil, "1 Overview"},
		{"number keys pick a page", []string{"3"}, "3 Keys"},
		{"every number key", []string{"6", "2"}, "2 Traces"},
		{"tab goes to the next page", []string{"tab", "tab"}, "3 Keys"},
		{"tab wraps after the last page", []string{"6", "tab"}, "1 Overview"},
		{"shift+tab goes back and wraps", []string{"shift+tab"}, "6 Usage"},
		{"shift+tab from a page", []string{"4", "shift+tab"}, "3 Keys"},
		{"digits beyond 6 do nothing", []string{"5", "7", "0"}, "5 Providers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestModel(t, nil)
			press(m, tc.keys...)
			if got := activeTab(m.View()); got != tc.want {
				t.Errorf("after %v the active tab is %q, want %q\n%s", tc.keys, got, tc.want, m.View())
			}
		})
	}
}

// While a field has the keys, the number keys, tab and q belong to it.
func TestTypingInAFormDoesNotSwitchPagesOrQuit(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "5", "a") // Providers: add
	typeText(m, "q2")
	press(m, "tab")
	v := m.View()
	if got := activeTab(v); got != "5 Providers" {
		t.Fatalf("active tab %q after typing into a form", got)
	}
	mustContain(t, v, "New provider", "q2")
	if cmd := press(m, "ctrl+c"); !isQuit(cmd) {
		t.Error("ctrl+c does not quit from inside a form")
	}
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func TestQuitKeys(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		m := newTestModel(t, nil)
		if !isQuit(press(m, k)) {
			t.Errorf("%s does not quit", k)
		}
		if m.c.ctx.Err() == nil {
			t.Errorf("%s leaves the background work (live stream) running", k)
		}
	}
}

// "?" lists every binding of the key map, at 80×24, and goes away again.
func TestHelpShowsEveryBinding(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "?")
	v := m.View()
	for _, g := range m.c.keys.helpGroups() {
		mustContain(t, v, g.title)
		for _, b := range g.bindings {
			if line := screenLine(v, b.Help().Desc); !strings.Contains(line, b.Help().Key) {
				t.Errorf("help does not show %q %q", b.Help().Key, b.Help().Desc)
			}
		}
	}
	checkFits(t, v, 80, 24)
	press(m, "esc")
	mustNotContain(t, m.View(), "Everywhere")
}

// checkFits asserts the screen is exactly h lines of at most w cells.
func checkFits(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("the screen has %d lines, want %d:\n%s", len(lines), h, view)
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			t.Errorf("line %d is %d cells wide (> %d): %q", i+1, lipgloss.Width(l), w, l)
		}
	}
}

// Every page, and its forms, fits the terminal at 80×24 and after resizing.
func TestEveryScreenFitsTheTerminal(t *testing.T) {
	screens := []struct {
		name string
		keys []string
	}{
		{"overview", []string{"1"}},
		{"traces", []string{"2"}},
		{"trace detail", []string{"2", "enter"}},
		{"trace filter", []string{"2", "/"}},
		{"keys", []string{"3"}},
		{"key form", []string{"3", "a"}},
		{"key revoke", []string{"3", "d"}},
		{"credentials", []string{"4"}},
		{"credential form", []string{"4", "a"}},
		{"providers", []string{"5"}},
		{"provider form", []string{"5", "a"}},
		{"usage", []string{"6"}},
		{"help", []string{"?"}},
	}
	sizes := [][2]int{{80, 24}, {120, 40}, {60, 20}, {40, 12}}
	for _, sc := range screens {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%s at %dx%d", sc.name, size[0], size[1]), func(t *testing.T) {
				m := newTestModel(t, nil)
				feedAll(m)
				press(m, sc.keys...)
				send(m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
				checkFits(t, m.View(), size[0], size[1])
			})
		}
	}
}

// feedAll gives every page data, as the admin API would.
func feedAll(m *Model) {
	st := fixtureStatus()
	send(m, statusMsg{Status: st})
	for _, tr := range fixtureTraces() {
		send(m, traceMsg{Traces: []admin.Trace{tr}})
	}
	send(m, fixtureKeys(), fixtureCredentials(), providersLoadedMsg{Providers: fixtureProviders()},
		usageLoadedMsg{By: "key", Period: 1, Rows: fixtureUsage()})
}

func TestNarrowTerminalShortensTheTabs(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "4")
	send(m, tea.WindowSizeMsg{Width: 50, Height: 20})
	first := strings.SplitN(m.View(), "\n", 2)[0]
	mustContain(t, first, "[4 Credentials]", " 1 ", " 6 ")
	mustNotContain(t, first, "Overview", "Usage")
}

// When the admin API cannot be reached the TUI says so in a banner, keeps
// polling, and when the API answers again clears it and reloads the page.
func TestUnreachableBannerThenRecovery(t *testing.T) {
	m := newTestModel(t, admin.NewClient("http://127.0.0.1:9", "t"))
	press(m, "3")
	down := fmt.Errorf("%w at http://127.0.0.1:9 (is `aigw serve` running?): connection refused", admin.ErrUnreachable)
	cmd := send(m, statusMsg{Err: down})
	send(m, keysLoadedMsg{Err: down})
	v := m.View()
	mustContain(t, v, "Cannot reach the aigw admin API at http://127.0.0.1:9", "Retrying every 2s",
		"cannot load the keys: the gateway is unreachable")
	if cmd == nil {
		t.Fatal("no command after a failed poll: the TUI stopped retrying")
	}
	checkFits(t, v, 80, 24)

	cmd = send(m, statusMsg{Status: fixtureStatus()})
	v = m.View()
	mustNotContain(t, v, "Cannot reach")
	mustContain(t, v, "◌ connecting") // the live stream is not open yet
	send(m, streamOpenMsg{})
	mustContain(t, m.View(), "● live")
	if !m.pages[2].(*keysPage).loading {
		t.Error("the Keys page did not reload when the gateway came back")
	}
	_ = cmd
}

func TestRefusedTokenBanner(t *testing.T) {
	m := newTestModel(t, nil)
	send(m, statusMsg{Err: &admin.APIError{Status: 401, Message: "token is expired"}})
	mustContain(t, m.View(), "The admin API refused the token: token is expired", "AIGW_ADMIN_TOKEN")
}

// The live stream reconnects after it breaks, with a growing back-off,
// and says so in the tab bar meanwhile.
func TestStreamReconnects(t *testing.T) {
	m := newTestModel(t, nil)
	cmd := send(m, streamEndedMsg{Err: admin.ErrStreamEnded})
	if cmd == nil {
		t.Fatal("no reconnection scheduled")
	}
	mustContain(t, m.View(), "◌ retrying")
	first := m.retry.cur
	send(m, streamRetryMsg{}, streamEndedMsg{Err: admin.ErrStreamEnded})
	if m.retry.cur <= first {
		t.Errorf("back-off did not grow: %v then %v", first, m.retry.cur)
	}
	send(m, streamRetryMsg{})
	mustContain(t, m.View(), "◌ connecting")
	mustNotContain(t, m.View(), "● live")
	send(m, streamOpenMsg{})
	mustContain(t, m.View(), "● live")
	if m.retry.cur != 0 {
		t.Error("back-off not reset when the stream opened")
	}
	// A trace also proves the stream is open.
	send(m, streamEndedMsg{Err: admin.ErrStreamEnded}, streamRetryMsg{}, traceMsg{Traces: fixtureTraces()[:1]})
	mustContain(t, m.View(), "● live")
}

// A reconnection replays recent traces; each is counted once.
func TestReplayedTracesCountOnce(t *testing.T) {
	m := newTestModel(t, nil)
	tr := fixtureTraces()
	for range 3 {
		for _, x := range tr {
			send(m, traceMsg{Traces: []admin.Trace{x}})
		}
	}
	press(m, "2")
	mustContain(t, m.View(), fmt.Sprintf("%d shown", len(tr)))
}

// NO_COLOR (and a terminal without colours) draws plain text; a colour
// terminal gets colours.
func TestNoColor(t *testing.T) {
	render := func(env map[string]string, force bool) string {
		r := lipgloss.NewRenderer(&bytes.Buffer{}, termenv.WithTTY(true), termenv.WithEnvironment(mapEnv(env)))
		m := New(Options{Client: admin.NewClient("http://127.0.0.1:9", ""), Renderer: r, NoColor: force, Now: func() time.Time { return testNow }})
		m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		feedAll(m)
		return m.View()
	}
	if v := render(map[string]string{"TERM": "xterm-256color"}, false); !strings.Contains(v, "\x1b[") {
		t.Fatal("a colour terminal gets no colours: the test proves nothing")
	}
	for name, v := range map[string]string{
		"NO_COLOR":     render(map[string]string{"TERM": "xterm-256color", "NO_COLOR": "1"}, false),
		"TERM=dumb":    render(map[string]string{"TERM": "dumb"}, false),
		"NoColor flag": render(map[string]string{"TERM": "xterm-256color"}, true),
	} {
		if strings.Contains(v, "\x1b[") {
			t.Errorf("%s: the screen has escape sequences:\n%q", name, v)
		}
		// Still usable without colour: the active tab and the selection are marked.
		if !strings.Contains(v, "[1 Overview]") {
			t.Errorf("%s: the active tab is not marked without colour", name)
		}
	}
}

type mapEnv map[string]string

func (e mapEnv) Getenv(k string) string { return e[k] }
func (e mapEnv) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

func TestErrTextOfAPIErrors(t *testing.T) {
	err := fmt.Errorf("revoking key k: %w", &admin.APIError{Status: 404, Message: `key "k": not found`})
	if got := errText(err); got != `revoking key k: key "k": not found` {
		t.Errorf("errText = %q", got)
	}
	if got := errText(fmt.Errorf("x: %w", admin.ErrUnreachable)); !strings.Contains(got, "unreachable") {
		t.Errorf("errText of an unreachable error = %q", got)
	}
}

// Traces that queue up while the screen redraws arrive as one message; a
// stream's end after them is not lost.
func TestLiveFeedBatches(t *testing.T) {
	f := newLiveFeed(0)
	tr := fixtureTraces()
	for i := range tr {
		f.ch <- traceMsg{Traces: tr[i : i+1]}
	}
	f.ch <- streamEndedMsg{Err: admin.ErrStreamEnded}
	first := f.next(t.Context())()
	if b, ok := first.(traceMsg); !ok || len(b.Traces) != len(tr) || b.Traces[0].RequestID != tr[0].RequestID {
		t.Fatalf("first message %T with %v", first, first)
	}
	if end, ok := f.next(t.Context())().(streamEndedMsg); !ok || end.Err == nil {
		t.Fatal("the stream's end was lost behind a batch")
	}
}
