package tui

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
)

// lateTraces are n traces newer than the fixture's, named late0… with
// model o3-mini.
func lateTraces(n int) []admin.Trace {
	out := make([]admin.Trace, n)
	for i := range out {
		tr := fixtureTraces()[0]
		tr.RequestID, tr.Model, tr.Time = "late"+string(rune('0'+i)), "o3-mini", testNow
		out[i] = tr
	}
	return out
}

// Pausing freezes what is on screen: the rows stay, what arrives is
// counted, and resuming shows it.
func TestTracesPauseKeepsTheRows(t *testing.T) {
	m := tracesModel(t)
	before := tableRows(m.View())
	press(m, "p")
	v := m.View()
	mustContain(t, v, "PAUSED", "18 shown")
	mustNotContain(t, v, "No traces yet")
	if after := tableRows(v); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("pausing changed the rows on screen:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}

	send(m, traceMsg{Traces: lateTraces(3)})
	v = m.View()
	mustContain(t, v, "PAUSED · 3 new", "gemini-2.5-pro")
	mustNotContain(t, v, "o3-mini")
	checkFits(t, v, 80, 24)

	press(m, "p")
	v = m.View()
	mustNotContain(t, v, "PAUSED")
	mustContain(t, v, "o3-mini", "21 shown")
}

// A filter set before pausing keeps its rows while paused; only traces
// it matches are counted.
func TestTracesPauseWithFilter(t *testing.T) {
	m := tracesModel(t)
	press(m, "/")
	typeText(m, "model:claude")
	press(m, "enter", "p")
	v := m.View()
	mustContain(t, v, "claude-sonnet-4-5", "5 shown")
	mustNotContain(t, v, "No traces yet")

	send(m, traceMsg{Traces: lateTraces(2)}) // o3-mini: not matched
	mustContain(t, m.View(), "PAUSED · 0 new", "claude-sonnet-4-5")

	// Changing the filter while paused filters what was frozen.
	press(m, "/")
	typeText(m, " status:502")
	press(m, "enter")
	v = m.View()
	mustContain(t, v, " 502 ", "1 shown")
	mustNotContain(t, v, " 200 ")
}

// With the cursor below the top, new traces are counted ("3 new ↑") and
// the selected trace stays selected; going to the top shows them.
func TestTracesNewAboveTheCursor(t *testing.T) {
	m := tracesModel(t)
	press(m, "down", "down")
	before := selectedLine(m.View())

	send(m, traceMsg{Traces: lateTraces(2)})
	send(m, traceMsg{Traces: lateTraces(3)[2:]})
	v := m.View()
	mustContain(t, v, "3 new ↑")
	if got := selectedLine(v); got != before {
		t.Errorf("selection moved from %q to %q", before, got)
	}
	checkFits(t, v, 80, 24)

	press(m, "g")
	v = m.View()
	mustNotContain(t, v, "new ↑")
	mustContain(t, selectedLine(v), "o3-mini")

	// At the top, the newest trace is selected as it arrives: no count.
	send(m, traceMsg{Traces: []admin.Trace{{RequestID: "newest", Model: "gpt-5", Time: testNow, Status: 200}}})
	v = m.View()
	mustNotContain(t, v, "new ↑")
	mustContain(t, selectedLine(v), "gpt-5")
}

// The selection follows the trace's id, even when a burst evicts rows
// from the bottom of a small ring, and across pause and resume.
func TestTracesSelectionByID(t *testing.T) {
	m := tracesModel(t)
	press(m, "down", "down", "down")
	before := selectedLine(m.View())
	press(m, "p")
	send(m, traceMsg{Traces: lateTraces(4)})
	if got := selectedLine(m.View()); got != before {
		t.Errorf("paused: selection moved from %q to %q", before, got)
	}
	press(m, "p")
	v := m.View()
	if got := selectedLine(v); got != before {
		t.Errorf("resumed: selection moved from %q to %q", before, got)
	}
	mustContain(t, v, "4 new ↑")
}

// A selected trace pushed out of a full ring leaves the cursor on the last
// row; the page does not point past its list.
func TestTracesSelectionEvicted(t *testing.T) {
	p := newTracesPage(newTestModel(t, nil).c, 5)
	push := func(ids ...string) {
		for _, id := range ids {
			p.update(traceMsg{Traces: []admin.Trace{{RequestID: id, Model: "m-" + id, Time: testNow}}})
		}
	}
	push("a", "b", "c", "d", "e")
	p.update(keyPress("down"))
	p.update(keyPress("down")) // on c
	push("f")
	if n, at := p.source(); p.table.cursor >= n || at(p.table.cursor).RequestID != "c" {
		t.Fatalf("selection left c: row %d", p.table.cursor)
	}
	push("g", "h", "i") // c is pushed out
	if n, _ := p.source(); p.table.cursor != n-1 {
		t.Errorf("cursor on row %d of %d after its trace left the ring", p.table.cursor, n)
	}
	mustContain(t, p.view(), "› ", "4 new ↑")
}
