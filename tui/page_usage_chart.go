package tui

import (
	"time"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
)

// The Usage page's per-day cost chart: one line under the total, the cost
// of the selected row on each UTC day of the period (by day: of every day
// shown), newest rightmost.

// usageDailyMsg is the per-day usage of one row.
type usageDailyMsg struct {
	want usageChartFor
	Days []admin.UsageRow
	Err  error
}

// usageChartFor is the row and period a chart is of.
type usageChartFor struct {
	by     string
	period int
	custom usageRange
	group  string
}

type usageChart struct {
	of     usageChartFor
	days   []admin.UsageRow
	err    error
	loaded bool
}

// chartFor is the row the chart should show now; ok is false when there is
// no chart to draw (no row, a grouping the daily roll-ups cannot narrow to).
func (p *usagePage) chartFor() (usageChartFor, bool) {
	want := usageChartFor{by: p.groupBy(), period: p.period, custom: p.custom}
	if want.by == admin.GroupByDay {
		return want, true // drawn from the rows themselves
	}
	i := p.list.at(&p.table)
	if i < 0 || i >= len(p.rows) {
		return want, false
	}
	want.group = p.rows[i].Group
	// The credential roll-ups are not kept per key or model and cannot be
	// asked for one credential; an empty model is not a filter.
	return want, want.by != admin.GroupByCredential && want.group != ""
}

// loadChart asks for the selected row's days unless the chart has them.
func (p *usagePage) loadChart() tea.Cmd {
	want, ok := p.chartFor()
	if !ok || want.by == admin.GroupByDay || p.chart.of == want { // loaded, or on its way
		return nil
	}
	p.chart = usageChart{of: want} // loading
	q := admin.UsageQuery{By: admin.GroupByDay}
	q.Since, q.Until = p.span()
	switch want.by {
	case admin.GroupByKey:
		q.Key = want.group
	case admin.GroupByModel:
		q.Model = want.group
	case admin.GroupByProvider:
		q.Provider = want.group
	}
	c := p.c
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		days, err := c.client.Usage(ctx, q)
		return usageDailyMsg{want: want, Days: days, Err: err}
	}
}

func (p *usagePage) chartLoaded(msg usageDailyMsg) {
	if msg.want != p.chart.of {
		return // the cursor moved on
	}
	p.chart.days, p.chart.err, p.chart.loaded = msg.Days, msg.Err, msg.Err == nil
}

// chartLine is the chart's line at width w ("" when there is none).
func (p *usagePage) chartLine(w int) string {
	s := p.c.styles
	want, ok := p.chartFor()
	switch {
	case !ok && want.by == admin.GroupByCredential:
		return s.Muted.Render("cost per day: not kept per credential")
	case !ok:
		return ""
	}
	days := p.rows
	if want.by != admin.GroupByDay {
		if p.chart.of != want || p.chart.err != nil || !p.chart.loaded {
			if p.chart.err != nil && p.chart.of == want {
				return s.Muted.Render("cost per day: cannot load it")
			}
			return s.Muted.Render("cost per day: …")
		}
		days = p.chart.days
	}
	vals, first, last, peak := p.dailyCosts(days)
	if len(vals) == 0 {
		return s.Muted.Render("cost per day: no usage")
	}
	label := "cost/day "
	tail := " max " + fmtUSD(peak) + " " + first + "→" + last[5:]
	if first[:5] != last[:5] {
		tail = " max " + fmtUSD(peak) + " " + first + "→" + last
	}
	chartW := min(len(vals), max(w-len(label)-len([]rune(tail)), 0))
	if chartW < 7 { // too narrow to tell anything
		return ""
	}
	return s.Muted.Render(label) + s.Spark.Render(sparkline(vals, chartW)) + s.Muted.Render(tail)
}

// dailyCosts puts the days' costs in order, one value per UTC day of the
// period (a day without usage is 0), from the period's first day (all time:
// the first day with usage) to its last.
func (p *usagePage) dailyCosts(days []admin.UsageRow) (vals []float64, first, last string, peak float64) {
	if len(days) == 0 {
		return nil, "", "", 0
	}
	cost := make(map[string]float64, len(days))
	first, last = days[0].Group, days[0].Group
	for _, d := range days {
		cost[d.Group] += d.CostUSD
		first, last = min(first, d.Group), max(last, d.Group)
	}
	since, until := p.span()
	if since != "" {
		first = since
	}
	if until != "" {
		last = until
	}
	from, err1 := time.Parse(time.DateOnly, first)
	to, err2 := time.Parse(time.DateOnly, last)
	if err1 != nil || err2 != nil || to.Before(from) {
		return nil, "", "", 0
	}
	const maxDays = 366 * 5 // the chart shows at most its width anyway
	if to.Sub(from) > maxDays*24*time.Hour {
		from = to.AddDate(0, 0, -maxDays)
		first = admin.UsageDay(from)
	}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		v := cost[admin.UsageDay(d)]
		vals = append(vals, v)
		peak = max(peak, v)
	}
	return vals, first, last, peak
}
