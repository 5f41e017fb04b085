package tui

import (
	"testing"
	"time"
)

// The Usage page charts the selected row's cost per day: it follows the
// cursor, and says so where the roll-ups cannot tell (by credential).
func TestUsageChartFollowsTheSelectedRow(t *testing.T) {
	tm := startProgram(t, 100, 30)
	tm.Send(keyPress("6"))
	// support-bot first (the costliest): 7 days, $3.10 at most, a day without use blank.
	waitFor(t, tm, "support-bot (key_support)", "cost/day ▄▃▇ ▅█▄ max $3.1000 2025-05-26→06-01")
	tm.Send(keyPress("down")) // billing: one day of $0.01
	waitFor(t, tm, "cost/day       █ max $0.0100")
	for range 4 { // model, provider, day, credential
		tm.Send(keyPress("b"))
	}
	waitFor(t, tm, "[credential]", "cost per day: not kept per credential")
}

// A chart that arrives after the cursor moved on is not shown for the new row.
func TestUsageChartIgnoresALateAnswer(t *testing.T) {
	c := &common{ctx: t.Context(), styles: NewStyles(asciiRenderer()), keys: DefaultKeyMap(),
		now: func() time.Time { return testNow }, loc: time.UTC, width: 80, height: 24, bodyHeight: 20}
	p := newUsagePage(c)
	p.update(usageLoadedMsg{By: "key", Period: 1, Rows: fixtureUsage()})
	first, _ := p.chartFor()
	p.update(keyPress("down"))
	p.update(usageDailyMsg{want: first, Days: fixtureKeyDays("key_support")})
	if p.chart.loaded {
		t.Fatalf("the first row's days were taken for the second row: %+v", p.chart)
	}
	now, _ := p.chartFor()
	p.update(usageDailyMsg{want: now, Days: fixtureKeyDays("key_billing")})
	if !p.chart.loaded || len(p.chart.days) != 1 {
		t.Fatalf("the second row's days: %+v", p.chart)
	}
}
