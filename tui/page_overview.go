package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aigw/aigw/admin"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// overviewPage shows the gateway at a glance: live figures over the last
// minute (from the trace stream), today's totals and the requests in
// flight (from the status poll), charts of the last ten minutes, and the
// credentials out of rotation.
type overviewPage struct {
	c      *common
	stats  liveStats
	status *admin.Status // the last good answer; nil until the first
}

func newOverviewPage(c *common) *overviewPage { return &overviewPage{c: c} }

func (p *overviewPage) title() string   { return "Overview" }
func (p *overviewPage) capturing() bool { return false }
func (p *overviewPage) shortHelp() []key.Binding {
	return []key.Binding{p.c.keys.Pages, p.c.keys.NextPage}
}

func (p *overviewPage) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case traceMsg:
		now := p.c.now()
		for i := range msg.Traces {
			p.stats.add(&msg.Traces[i], now)
		}
	case statusMsg:
		if msg.Err == nil {
			st := msg.Status
			p.status = &st
		}
	}
	return nil
}

// overviewLabel is the width of the figures' and charts' labels.
const overviewLabel = 13

func (p *overviewPage) view() string {
	s, w := p.c.styles, p.c.width
	now := p.c.now()
	f := p.stats.figures(now)
	st := p.status
	if st == nil {
		st = &admin.Status{}
	}

	none := s.Muted.Render("-")
	lat := func(ms float64) string {
		if f.Samples == 0 {
			return none
		}
		return s.Value.Render(fmtMS(ms))
	}
	errRate := s.Value.Render(fmtPercent(f.ErrorRate))
	switch {
	case f.Requests == 0:
		errRate = none
	case f.ErrorRate >= 0.05:
		errRate = s.Bad.Render(fmtPercent(f.ErrorRate))
	case f.Errors > 0:
		errRate = s.Warn.Render(fmtPercent(f.ErrorRate))
	}
	fromStatus := func(v string) string {
		if p.status == nil {
			return none
		}
		return s.Value.Render(v)
	}
	rows := [][]string{
		{"Requests/s", s.Value.Render(fmt.Sprintf("%.2f", f.RPS)), "Error rate", errRate, "In flight", fromStatus(fmt.Sprint(st.InFlight))},
		{"Latency p50", lat(f.P50), "Latency p99", lat(f.P99), "Tokens/min", s.Value.Render(fmtCount(f.TokensPerMin))},
		{"Overhead p50", lat(f.OverheadP50), "Overhead p99", lat(f.OverheadP99), "Cost today", fromStatus(todayCost(st.Today))},
	}
	colW := min(max(w/3, overviewLabel+6), overviewLabel+24) // wide screens: figures stay near their labels
	var b strings.Builder
	b.WriteString(s.Title.Render("Last minute") + s.Muted.Render(fmt.Sprintf("  %s, %s", plural(int(f.Requests), "request", "requests"), plural(int(f.Errors), "error", "errors"))))
	for _, r := range rows {
		b.WriteString("\n")
		for i := 0; i < len(r); i += 2 {
			b.WriteString(cell(" "+s.Label.Render(cell(r[i], overviewLabel-1, false))+" "+r[i+1], colW, false))
		}
	}
	if p.status != nil {
		b.WriteString("\n " + s.Label.Render(cell("Today (UTC)", overviewLabel-1, false)) + " " +
			fmt.Sprintf("%s requests · %s errors · %s tokens · %s",
				fmtInt(st.Today.Requests), fmtInt(st.Today.Errors), fmtCount(float64(st.Today.Tokens)), fmtUSD(st.Today.CostUSD)))
		if st.Today.CostUnknown > 0 { // requests without a price are not in the sum
			b.WriteString(s.Warn.Render(" + " + fmtInt(st.Today.CostUnknown) + " unpriced"))
		}
	}

	// Charts: one column per chartStep, as many as fit (at most 10 min).
	chartW := min(max(w-overviewLabel-14, 10), chartColumns)
	ser := p.stats.series(now, chartW)
	b.WriteString("\n\n" + s.Title.Render("Last 10 minutes") + s.Muted.Render(fmt.Sprintf("  one column per %s", chartStep)))
	for _, ch := range []struct {
		label string
		vals  []float64
		top   func(float64) string
	}{
		{"Requests/s", ser.RPS, func(v float64) string { return fmt.Sprintf("%.2f", v) }},
		{"Errors", ser.Errors, func(v float64) string { return fmtCount(v) }},
		{"Tokens/min", ser.TokensPerMin, fmtCount},
		{"Latency avg", ser.Latency, fmtMS},
	} {
		peak := 0.0
		for _, v := range ch.vals {
			peak = max(peak, v)
		}
		b.WriteString("\n " + s.Label.Render(cell(ch.label, overviewLabel-1, false)) + " " +
			s.Spark.Render(sparkline(ch.vals, chartW)) + s.Muted.Render(" max "+ch.top(peak)))
	}

	head := b.String()
	return head + "\n\n" + p.credentialsView(p.c.bodyHeight-lipgloss.Height(head)-2)
}

// credentialsView counts credentials per state and lists those out of
// rotation in room lines.
func (p *overviewPage) credentialsView(room int) string {
	s := p.c.styles
	if p.status == nil {
		return s.Title.Render("Credentials") + s.Muted.Render("  waiting for the gateway's status…")
	}
	st := p.status
	var counts []string
	// The counts use the states' tokens, as the CLI and the JSON do.
	for _, state := range []struct {
		key   string
		style lipgloss.Style
	}{
		{"healthy", s.Good}, {"cooling_down", s.Warn}, {"quota_exhausted", s.Warn}, {"budget_exhausted", s.Warn},
		{"invalid", s.Bad}, {"disabled", s.Muted}, {"broken", s.Bad},
	} {
		if n := st.Credentials[state.key]; n > 0 || state.key == "healthy" {
			counts = append(counts, state.style.Render(fmt.Sprintf("%d %s", n, state.key)))
		}
	}
	// The counts wrap under each other rather than be cut at 80 columns.
	const lead = len("Credentials  ")
	out, x := s.Title.Render("Credentials")+"  ", lead
	for i, c := range counts {
		sep := ""
		if i > 0 {
			sep = " · "
		}
		if w := lipgloss.Width(sep + c); i > 0 && x+w > p.c.width {
			out += "\n" + strings.Repeat(" ", lead)
			x, sep, room = lead, "", room-1
		}
		out += s.Muted.Render(sep) + c
		x += lipgloss.Width(sep + c)
	}
	for _, b := range st.BrokenProviders { // their keys answer 503
		out += "\n " + s.Bad.Render(fmt.Sprintf("! provider %-17s %-19s %s", b.Name, "broken", oneLine(b.Reason)))
		room--
	}
	if len(st.Out) == 0 {
		return out + "\n " + s.Good.Render("✓ every enabled credential is in rotation")
	}
	room = max(room, 1)
	// The name and state columns are as wide as what they show (names up
	// to 17 columns), leaving the reason as much room as there is.
	nameW, stateW := 8, 12
	for i, o := range st.Out {
		if i < room {
			nameW = min(max(nameW, utf8.RuneCountInString(safe(outName(o)))), 17)
			stateW = max(stateW, utf8.RuneCountInString(stateText(o.State, o.Until, p.c)))
		}
	}
	for i, o := range st.Out {
		if i == room-1 && len(st.Out) > room {
			out += "\n " + s.Muted.Render(fmt.Sprintf("… and %d more (see 4 Credentials)", len(st.Out)-i))
			break
		}
		state := stateText(o.State, o.Until, p.c)
		why := o.LastError
		if o.State == "quota_exhausted" || o.State == "budget_exhausted" {
			why = o.Reason
		}
		line := fmt.Sprintf("! %-*s %-*s  %s", nameW, safe(outName(o)), stateW, state, oneLine(why))
		tn := s.Warn
		if o.State == "invalid" || o.State == "broken" {
			tn = s.Bad
		}
		out += "\n " + tn.Render(line)
	}
	return out
}

// todayCost is the day's cost, "+?" when some requests had no price.
func todayCost(t admin.StatusToday) string {
	return usageCost(admin.UsageRow{CostUSD: t.CostUSD, CostUnknown: t.CostUnknown})
}

// outName names a credential out of rotation as provider/name, or by its
// id when it has no name (or the gateway did not say).
func outName(o admin.OutCredential) string {
	if o.Name == "" || o.Provider == "" {
		return o.ID
	}
	return o.Provider + "/" + o.Name
}
