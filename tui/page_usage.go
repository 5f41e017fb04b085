package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/aigw/aigw/admin"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// usageLoadedMsg is one grouping of the usage roll-ups.
type usageLoadedMsg struct {
	By       string
	Period   int
	Rows     []admin.UsageRow
	KeyNames map[string]string // key or credential id → name, when grouped by key or credential
	Err      error
}

// usagePeriod is a span of UTC days ending today.
type usagePeriod struct {
	label string
	days  int // 0: all time
}

var usagePeriods = []usagePeriod{{"today", 1}, {"last 7 days", 7}, {"last 30 days", 30}, {"all time", 0}}

// usagePage shows the usage roll-ups by key, model, provider, day or
// credential, with the cache-read share and a bar chart of the cost.
type usagePage struct {
	c        *common
	by       int // index in admin.UsageGroupings
	period   int // index in usagePeriods
	rows     []admin.UsageRow
	keyNames map[string]string
	loaded   bool
	table    table
	flash    banner
	barW     int // the bar column's width, as last laid out
	list     listView
	custom   usageRange // the period of your own (p.period == customPeriod)
	form     *form      // the custom period's form, while open
	chart    usageChart // the selected row's cost per day
}

func newUsagePage(c *common) *usagePage {
	p := &usagePage{c: c, period: 1, table: table{
		cols: []column{
			{title: "GROUP", min: 10, max: 48, keep: 3},
			{title: "REQ", min: 5, right: true, keep: 2},
			{title: "ERR", min: 3, right: true, keep: 1},
			{title: "TOKENS", min: 6, right: true, keep: 1},
			{title: "COST", min: 9, right: true, keep: 3},
			{title: "CACHE", min: 5, right: true},
			{title: "", min: 4, fill: true, style: &c.styles.Bar},
		},
		empty: "No usage in this period.",
	}}
	p.list = newListView(c, &p.table, "row")
	return p
}

func (p *usagePage) title() string   { return "Usage" }
func (p *usagePage) capturing() bool { return p.form != nil || p.list.filtering }

func (p *usagePage) shortHelp() []key.Binding {
	k := p.c.keys
	if p.form != nil {
		return p.form.shortHelp()
	}
	if h := p.list.help(); h != nil {
		return h
	}
	return []key.Binding{footGroup, footPeriod, footDates, footTraces, footFilter, footSort, k.Refresh}
}

func (p *usagePage) groupBy() string { return admin.UsageGroupings[p.by] }

func (p *usagePage) load() tea.Cmd {
	c, by, period := p.c, p.groupBy(), p.period
	q := admin.UsageQuery{By: by}
	q.Since, q.Until = p.span()
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		msg := usageLoadedMsg{By: by, Period: period}
		if msg.Rows, msg.Err = c.client.Usage(ctx, q); msg.Err != nil {
			return msg
		}
		switch by {
		case admin.GroupByKey:
			if msg.KeyNames, msg.Err = keyNames(ctx, c.client, msg.Rows); msg.Err != nil {
				return msg
			}
		case admin.GroupByCredential:
			creds, err := c.client.AllCredentials(ctx, admin.CredentialQuery{})
			if err != nil {
				msg.Err = err
				return msg
			}
			msg.KeyNames = make(map[string]string, len(creds))
			for _, cr := range creds {
				msg.KeyNames[cr.ID] = cr.Name
			}
		}
		return msg
	}
}

func (p *usagePage) update(msg tea.Msg) tea.Cmd {
	k := p.c.keys
	switch msg := msg.(type) {
	case pageShownMsg, reconnectedMsg:
		return p.load()
	case usageLoadedMsg:
		if msg.By != p.groupBy() || msg.Period != p.period {
			return nil // an older question's answer
		}
		if msg.Err != nil {
			p.flash = failBanner("cannot load the usage", msg.Err)
			return nil
		}
		p.flash = banner{}
		p.rows, p.keyNames, p.loaded = msg.Rows, msg.KeyNames, true
		p.sortRows()
		p.setRows()
		p.chart = usageChart{} // the figures may have changed
		return p.loadChart()
	case usageDailyMsg:
		p.chartLoaded(msg)
	case tea.WindowSizeMsg:
		if p.form != nil {
			p.form.update(msg)
		}
		p.setRows() // the bars follow the width
	case tea.KeyMsg:
		if cmd, handled := p.listKey(msg); handled {
			return tea.Batch(cmd, p.loadChart())
		}
		switch {
		case key.Matches(msg, k.GroupBy):
			p.by = (p.by + 1) % len(admin.UsageGroupings)
			p.table.cursor = 0
			return p.load()
		case key.Matches(msg, k.Period):
			p.period = (p.period + 1) % (len(usagePeriods) + 1) % len(usagePeriods) // from the custom period: back to the first
			p.table.cursor = 0
			p.table.cursor = 0
			return p.load()
		case key.Matches(msg, k.Refresh):
			return p.load()
		}
		p.table.update(msg, k, p.tableHeight()-p.statusLines())
		return p.loadChart()
	}
	return nil
}

// sortRows puts days newest first, other groups by cost, then requests.
func (p *usagePage) sortRows() {
	if p.groupBy() == admin.GroupByDay {
		slices.SortFunc(p.rows, func(a, b admin.UsageRow) int { return cmp.Compare(b.Group, a.Group) })
		return
	}
	slices.SortFunc(p.rows, func(a, b admin.UsageRow) int {
		if c := cmp.Compare(b.CostUSD, a.CostUSD); c != 0 {
			return c
		}
		return cmp.Compare(b.Requests, a.Requests)
	})
}

func (p *usagePage) groupLabel(g string) string {
	switch {
	case g == "" && p.groupBy() == admin.GroupByModel:
		return "(unknown model)"
	case g == "" && p.groupBy() == admin.GroupByCredential:
		return "(no credential)" // refused before one was chosen
	case (p.groupBy() == admin.GroupByKey || p.groupBy() == admin.GroupByCredential) && p.keyNames[g] != "":
		return p.keyNames[g] + " (" + g + ")"
	}
	return g
}

func (p *usagePage) setRows() {
	top := 0.0
	for _, r := range p.rows {
		top = max(top, r.CostUSD)
	}
	barW := p.barW
	rows := make([]listRow, len(p.rows))
	for i, r := range p.rows {
		tn := toneNormal
		if r.Errors > 0 && r.Errors*10 >= r.Requests {
			tn = toneWarn
		}
		rows[i] = listRow{id: "group:" + r.Group, tone: tn, cells: []string{p.groupLabel(r.Group), fmtInt(r.Requests), fmtInt(r.Errors),
			fmtCount(float64(r.PromptTokens + r.CompletionTokens)), usageCost(r), cacheShare(r), hbar(r.CostUSD, top, barW)}}
	}
	p.list.apply(&p.table, rows)
}

func (p *usagePage) tableHeight() int { return max(p.c.bodyHeight-5, 2) }

func (p *usagePage) view() string {
	s := p.c.styles
	var tabs []string
	for i, g := range admin.UsageGroupings {
		if i == p.by {
			tabs = append(tabs, s.TabActive.Render("["+g+"]"))
		} else {
			tabs = append(tabs, s.Muted.Render(" "+g+" ")) // as wide as "[g]": the tabs stay put
		}
	}
	head := s.Title.Render("Usage by ") + strings.Join(tabs, "") + s.Muted.Render(" (b)") +
		s.Title.Render(p.periodTitle()) + s.Value.Render(p.periodLabel()) + s.Muted.Render(" (p, P)")
	if p.form != nil {
		return head + "\n\n" + p.form.view()
	}
	if !p.loaded {
		if p.flash.kind != bannerNone {
			return head + "\n\n" + p.flash.view(s, p.c.width, 3)
		}
		return head + "\n\n" + s.Muted.Render("Loading usage…")
	}
	var tot admin.UsageRow
	for _, i := range p.list.shown { // the rows on screen: a filter narrows the total too
		tot.Add(&p.rows[i])
	}
	total := fmt.Sprintf("Total  %s requests · %s errors · %s tokens · %s · cache read %s",
		fmtInt(tot.Requests), fmtInt(tot.Errors), fmtCount(float64(tot.PromptTokens+tot.CompletionTokens)), usageCost(tot), cacheShare(tot))
	tableH := p.tableHeight() - p.statusLines()
	// The bar takes what the other columns leave: redraw the rows when
	// that changed (a resize, other figures).
	if w := p.table.widths(p.c.width, tableH-1)[len(p.table.cols)-1]; w != p.barW {
		p.barW = w
		p.setRows()
	}
	body := fitLines(p.table.view(s, p.c.width, tableH), p.c.width, tableH)
	if st := p.list.status(""); st != "" {
		body = st + "\n" + body
	}
	out := head + "\n\n" + body + "\n" + s.Value.Render(total) + "\n" + p.chartLine(p.c.width)
	switch fv := p.flash.view(s, p.c.width, 1); {
	case fv != "":
		out += "\n" + fv
	case tot.CostUnknown > 0:
		out += "\n" + s.Muted.Render(fmt.Sprintf("+? %s had no price: their cost is not counted",
			plural(int(tot.CostUnknown), "request", "requests")))
	}
	return out
}
