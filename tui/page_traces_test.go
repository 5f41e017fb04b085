package tui

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
)

// tracesModel is the root model on the Traces page with the fixture traces.
func tracesModel(t *testing.T) *Model {
	m := newTestModel(t, nil)
	for _, tr := range fixtureTraces() {
		send(m, traceMsg{Traces: []admin.Trace{tr}})
	}
	press(m, "2")
	return m
}

// tableRows are the table's data lines (below its header).
func tableRows(view string) []string {
	lines := strings.Split(view, "\n")
	for i, l := range lines {
		if strings.Contains(l, "TIME") && strings.Contains(l, "MODEL") {
			var rows []string
			for _, r := range lines[i+1:] {
				cells := strings.TrimPrefix(strings.TrimPrefix(r, "› "), "  ")
				if len(cells) >= 8 && cells[2] == ':' && cells[5] == ':' { // starts with a time
					rows = append(rows, r)
				}
			}
			return rows
		}
	}
	return nil
}

func TestTracesTable(t *testing.T) {
	m := tracesModel(t)
	v := m.View()
	rows := tableRows(v)
	if len(rows) == 0 {
		t.Fatalf("no rows:\n%s", v)
	}
	// Newest first, selected; every column a user reads.
	if !strings.HasPrefix(rows[0], "› 11:59:53") || !strings.Contains(rows[0], "gemini-2.5-pro") {
		t.Errorf("the first row is not the newest trace, selected: %q", rows[0])
	}
	newest := screenLine(v, "gemini-2.5-pro")
	for _, col := range []string{"search", "gemini", "200", "1.34s", "2120", "$0.0063"} {
		if !strings.Contains(newest, col) {
			t.Errorf("row %q lacks %q", newest, col)
		}
	}
	// A failed request with retries shows its status and retry count.
	failed := screenLine(v, " 500 ")
	if !strings.Contains(failed, "billing") || !strings.HasSuffix(strings.TrimSpace(failed), "2") {
		t.Errorf("the 500 row does not show its 2 retries: %q", failed)
	}
	// Unknown cost is "?", never $0.
	lab := screenLine(v, "llama-3.1-70b")
	if !strings.Contains(lab, " ? ") || strings.Contains(lab, "$0 ") {
		t.Errorf("unknown cost not shown as ?: %q", lab)
	}
	mustNotContain(t, v, "$0 ")
}

func TestTracesFilter(t *testing.T) {
	tests := []struct {
		filter string
		want   []string // models expected on screen
		not    []string
	}{
		{"model:claude", []string{"claude-sonnet-4-5"}, []string{"gpt-4o-mini", "gemini"}},
		{"provider:gemini", []string{"gemini-2.5-flas", "gemini-2.5-pro"}, []string{"claude", "gpt-4o"}},
		{"key:support", []string{"claude-sonnet-4-5", "support"}, []string{"gpt-4o"}},
		{"status:5xx", []string{" 500 ", " 502 "}, []string{" 200 ", " 429 "}},
		{"status:429", []string{" 429 "}, []string{" 200 "}},
		{"err", []string{" 500 ", " 502 ", " 429 "}, []string{" 200 "}},
		{"openai status:ok", []string{"gpt-4o-mini", "gpt-4o "}, []string{" 500 ", "claude"}},
		{"llama", []string{"llama-3.1-70b"}, []string{"gpt"}},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			m := tracesModel(t)
			press(m, "/")
			typeText(m, tc.filter)
			v := m.View()
			mustContain(t, v, "/ "+tc.filter) // the field shows what is typed
			table := strings.Join(tableRows(v), "\n")
			mustContain(t, table, tc.want...)
			mustNotContain(t, table, tc.not...)

			// enter keeps the filter and gives the keys back; esc clears it.
			press(m, "enter")
			v = m.View()
			mustContain(t, v, `filter "`+tc.filter+`"`)
			if m.pages[1].capturing() {
				t.Error("the filter field still takes the keys after enter")
			}
			press(m, "esc")
			mustContain(t, m.View(), "18 shown")
		})
	}
}

func TestTracesFilterEscWhileTyping(t *testing.T) {
	m := tracesModel(t)
	press(m, "/")
	typeText(m, "claude")
	press(m, "esc")
	v := m.View()
	mustContain(t, v, "18 shown", "gpt-4o-mini")
	mustNotContain(t, v, `filter "`)
}

func TestTracesPause(t *testing.T) {
	m := tracesModel(t)
	press(m, "p")
	mustContain(t, m.View(), "PAUSED", "PAUSED · 0 new")

	late := fixtureTraces()[0]
	late.RequestID, late.Model, late.Time = "late", "o3-mini", testNow
	send(m, traceMsg{Traces: []admin.Trace{late}})
	v := m.View()
	mustContain(t, v, "PAUSED · 1 new")
	mustNotContain(t, v, "o3-mini")

	press(m, " ") // space resumes too
	v = m.View()
	mustNotContain(t, v, "PAUSED")
	mustContain(t, v, "o3-mini", "19 shown")
}

// A new trace on top does not move the selection off the trace under it.
func TestTracesSelectionStaysOnTrace(t *testing.T) {
	m := tracesModel(t)
	press(m, "down", "down")
	before := screenLine(m.View(), "›")
	late := fixtureTraces()[0]
	late.RequestID, late.Model = "late", "o3-mini"
	send(m, traceMsg{Traces: []admin.Trace{late}})
	if after := screenLine(m.View(), "›"); after != before {
		t.Errorf("selection moved from %q to %q", before, after)
	}
}

func TestTraceDetail(t *testing.T) {
	m := tracesModel(t)
	press(m, "/")
	typeText(m, "status:502")
	press(m, "enter", "enter")
	v := m.View()
	mustContain(t, v,
		"Trace reqi0000000000",
		"POST /anthropic/v1/chat/completions",
		"support-bot key_support",
		"502",
		"2 retries",
		"upstream: connection reset by peer",
		"Attempts (3)",
		"1. cred_anthropic1",
		"3. cred_anthropic3",
		"cost           ? (unknown",
	)
	checkFits(t, v, 80, 24)
	press(m, "esc")
	v = m.View()
	mustNotContain(t, v, "Attempts")
	mustContain(t, v, "MODEL")
}

func TestTraceDetailShowsUsage(t *testing.T) {
	m := tracesModel(t)
	press(m, "enter")
	mustContain(t, m.View(), "1,700 prompt · 420 completion", "cost           $0.0063", "usage from     response")
}

func TestTracesRingIsBounded(t *testing.T) {
	p := newTracesPage(newTestModel(t, nil).c, 5)
	for i := range 12 {
		tr := admin.Trace{RequestID: string(rune('a' + i)), Model: "m" + string(rune('a'+i)), Time: testNow}
		p.update(traceMsg{Traces: []admin.Trace{tr}})
	}
	if p.ring.len() != 5 || p.ring.at(0).Model != "ml" || p.ring.at(4).Model != "mh" {
		t.Errorf("ring holds %d, newest %q, oldest %q", p.ring.len(), p.ring.at(0).Model, p.ring.at(4).Model)
	}
}

// A filter that matches nothing says so, and one it cannot read says what
// it expected, instead of "No traces yet".
func TestTracesFilterSaysWhyNothingShows(t *testing.T) {
	for _, tc := range []struct{ filter, want string }{
		{"model:nothing-like-it", `No trace matches "model:nothing-like-it".`},
		{"status:abc", "status:abc is not a status: use a code (429), a class (5xx), ok or err."},
		{"color:red", `Unknown filter "color:": use key model provider cred status since until.`},
	} {
		m := tracesModel(t)
		press(m, "/")
		typeText(m, tc.filter)
		press(m, "enter")
		v := m.View()
		mustContain(t, v, tc.want)
		mustNotContain(t, v, "No traces yet")
		checkFits(t, v, 80, 24)
	}
}
