package tui

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// layoutModel is the real model at w×h showing page (its key) with every
// page's data, a key whose cost has an unpriced part, a credential and a
// provider with long names.
func layoutModel(t *testing.T, page string, w, h int) *Model {
	t.Helper()
	m := newTestModel(t, nil)
	send(m, tea.WindowSizeMsg{Width: w, Height: h})
	keys := goldenKeys()
	creds := fixtureCredentials()
	creds.Credentials = append(creds.Credentials, admin.Credential{
		ID: "cred_Zq81mXcPa0Lk", Provider: "openai", Name: "batch-jobs-eu-west", Kind: admin.KindAPIKey, Weight: 2, Enabled: true})
	press(m, page)
	send(m, statusMsg{Status: fixtureStatus()}, keys, creds,
		providersLoadedMsg{Providers: goldenProviders()},
		usageLoadedMsg{By: "key", Period: 1, Rows: fixtureUsage(), KeyNames: map[string]string{"key_billing": "billing", "key_support": "support-bot"}},
		traceMsg{Traces: fixtureTraces()})
	return m
}

// At 80 columns what a user reads a row for is whole: names, states and
// costs with their unpriced mark; what gives way is cut with "…".
func TestColumnsKeepWhatMatters(t *testing.T) {
	tests := []struct {
		page  string
		row   string // a text on the row
		whole []string
	}{
		{"3", "key_lab", []string{"lab", "active", "$0.0049+?"}},
		{"3", "key_support", []string{"support-bot", "$11.02+?"}},
		{"4", "personal-2023", []string{"cred_openai3", "invalid until 12:04:00", "17"}},
		{"4", "batch-jobs-eu-west", []string{"2"}},
		{"4", "team-b", []string{"cooling_down until 12:00:40", "388", "41"}},
		{"5", "azure-eastus", []string{"openai", "1m30s"}},
		{"6", "support-bot (key_support)", []string{"812", "$11.02+?"}},
		{"2", "11:55:39", []string{"support-bot", "claude-sonnet-4-5", "502", "30.1s"}},
	}
	for _, tc := range tests {
		m := layoutModel(t, tc.page, 80, 24)
		v := m.View()
		line := screenLine(v, tc.row)
		if line == "" {
			t.Errorf("page %s: no row with %q:\n%s", tc.page, tc.row, v)
			continue
		}
		for _, w := range tc.whole {
			if !strings.Contains(line, w+" ") && !strings.HasSuffix(strings.TrimRight(line, " "), w) {
				t.Errorf("page %s: row %q does not show %q whole", tc.page, line, w)
			}
		}
		checkFits(t, v, 80, 24)
	}
	// The long base URL gives way, and says so.
	mustContain(t, screenLine(layoutModel(t, "5", 80, 24).View(), "azure-eastus"), "…")
}

// At 200 columns no column takes the room: each is at most a couple of
// cells wider than its widest cell, and the bar of the usage page is
// bounded too.
func TestColumnsShareTheRoom(t *testing.T) {
	for _, page := range []string{"2", "3", "4", "5", "6"} {
		m := layoutModel(t, page, 200, 50)
		v := m.View()
		checkFits(t, v, 200, 50)
		var tb *table
		switch p := m.pages[m.active].(type) {
		case *tracesPage:
			tb = &p.table
		case *keysPage:
			tb = &p.table
		case *credentialsPage:
			tb = &p.table
		case *providersPage:
			tb = &p.table
		case *usagePage:
			tb = &p.table
		}
		rowsH := 40
		wide := tb.measure(0, tb.n)
		for i, w := range tb.widths(200, rowsH) {
			c := tb.cols[i]
			limit := max(wide[i], c.min) + columnBreath
			if c.fill {
				limit = fillColumnMax + columnBreath
			}
			if w > limit {
				t.Errorf("page %s: column %q is %d cells wide, its widest cell %d", page, c.title, w, wide[i])
			}
		}
		// Nothing is cut when there is room, and the table is no wider
		// than its content needs.
		head := screenLine(v, "  "+tb.cols[0].title)
		for _, l := range tableLines(v, head) {
			if strings.Contains(l, "…") {
				t.Errorf("page %s: a cell is cut at 200 columns: %q", page, l)
			}
		}
		if w := lipgloss.Width(strings.TrimRight(head, " ")); w > 150 {
			t.Errorf("page %s: the header spans %d cells: %q", page, w, head)
		}
	}
}

// tableLines are the lines of view from the table's header to the first
// blank line.
func tableLines(view, head string) []string {
	lines := strings.Split(view, "\n")
	for i, l := range lines {
		if l != head {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == "" {
				return lines[i:j]
			}
		}
		return lines[i:]
	}
	return nil
}

// A column narrower than its title shows the short title; one that must be
// cut ends in "…"; the least important goes first.
func TestColumnLayout(t *testing.T) {
	tb := table{cols: []column{
		{title: "NAME", min: 4, keep: 3},
		{title: "NOTE", min: 4},
		{title: "LATENCY", short: "LAT", min: 5, right: true, keep: 1},
	}}
	tb.setRows([][]string{{"support-bot", "a long note nobody needs", "1.34s"}}, nil)
	tests := []struct {
		width int
		want  []int
	}{
		{80, []int{11 + 2, 24 + 2, 7 + 2}},      // room: natural widths and air
		{2 + 2 + 11 + 24 + 7, []int{11, 24, 7}}, // exactly natural
		{2 + 2 + 11 + 10 + 7, []int{11, 10, 7}}, // the note gives way first
		{2 + 2 + 11 + 4 + 5, []int{11, 4, 5}},   // then the latency, to its short title
		{2 + 2 + 9 + 4 + 5, []int{9, 4, 5}},     // the name last
		{2 + 2 + 4 + 4 + 5, []int{4, 4, 5}},     // every column at its min
		{2 + 2 + 3 + 3 + 3, []int{3, 3, 3}},     // then below it
		{2 + 2 + 3 + 3 + 3 - 5, []int{3, 3, 3}}, // but never below 3
	}
	for _, tc := range tests {
		got := tb.widths(tc.width, 10)
		if len(got) != len(tc.want) || got[0] != tc.want[0] || got[1] != tc.want[1] || got[2] != tc.want[2] {
			t.Errorf("width %d: columns %v, want %v", tc.width, got, tc.want)
		}
	}
	v := tb.view(NewStyles(asciiRenderer()), 2+2+11+4+5, 2)
	mustContain(t, v, "NAME", "LAT", "support-bot", "a l…", "1.34s")
	mustNotContain(t, v, "LATENCY")
}
