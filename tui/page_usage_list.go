package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// usageRange is a period of your own: UTC days, both included.
type usageRange struct{ since, until string }

// customPeriod is usagePage.period while a period of your own is shown.
var customPeriod = len(usagePeriods)

// span is the period's first and last UTC day ("" and "": all time).
func (p *usagePage) span() (since, until string) {
	if p.period == customPeriod {
		return p.custom.since, p.custom.until
	}
	if days := usagePeriods[p.period].days; days > 0 {
		return admin.UsageDay(p.c.now().UTC().AddDate(0, 0, 1-days)), p.c.today()
	}
	return "", ""
}

func (p *usagePage) periodLabel() string {
	if p.period == customPeriod {
		until := p.custom.until
		if until[:5] == p.custom.since[:5] { // the same year: once is enough
			until = until[5:]
		}
		return p.custom.since + "→" + until
	}
	return usagePeriods[p.period].label
}

// periodTitle comes before the period's label; a custom period needs the
// room at 80 columns.
func (p *usagePage) periodTitle() string {
	if p.period == customPeriod {
		return "  "
	}
	return "  period "
}

// statusLines is the room the filter's or sort's line takes.
func (p *usagePage) statusLines() int {
	if p.list.status("") != "" {
		return 1
	}
	return 0
}

// listKey handles the Usage list's own keys: the custom period form,
// filter and sort, c (copy the group) and enter (the row's traces).
func (p *usagePage) listKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	k := p.c.keys
	if p.form != nil {
		switch res, cmd := p.form.update(msg); res {
		case formCancelled:
			p.form = nil
		case formSubmitted:
			return p.submitPeriod(), true
		default:
			return cmd, true
		}
		return nil, true
	}
	if cmd, handled, changed := p.list.key(msg, &p.table); handled {
		if changed {
			p.setRows()
		}
		return cmd, true
	}
	if key.Matches(msg, k.CustomPeriod) {
		p.form = p.periodForm()
		return nil, true
	}
	i := p.list.at(&p.table)
	if i < 0 || i >= len(p.rows) {
		return nil, false
	}
	g := p.rows[i].Group
	switch {
	case key.Matches(msg, k.Copy):
		return copyToClipboard(p.c, p.title(), p.groupBy()+" "+g, g), true
	case key.Matches(msg, k.Open):
		return drillTo(p.tracesFilter(g)), true
	}
	return nil, false
}

// tracesFilter is the Traces filter for a usage row: its group, within the
// period shown.
func (p *usagePage) tracesFilter(g string) string {
	var words []string
	switch p.groupBy() {
	case admin.GroupByKey:
		words = append(words, filterWord("key", g))
	case admin.GroupByModel:
		words = append(words, filterWord("model", "="+g))
	case admin.GroupByProvider:
		words = append(words, filterWord("provider", "="+g))
	case admin.GroupByCredential:
		words = append(words, filterWord("cred", "="+g))
	case admin.GroupByDay:
		return "since:" + g + " until:" + g
	}
	since, until := p.span()
	if since != "" {
		words = append(words, "since:"+since)
	}
	if until != "" {
		words = append(words, "until:"+until)
	}
	return strings.Join(words, " ")
}

// periodForm asks for a period of your own.
func (p *usagePage) periodForm() *form {
	since, until := p.span()
	if since == "" {
		since = admin.UsageDay(p.c.now().UTC().AddDate(0, 0, -29))
	}
	if until == "" {
		until = p.c.today()
	}
	return newForm(p.c, "Usage period", "UTC days, both included.",
		textInput("since", "From", since, "YYYY-MM-DD", "The first day, as YYYY-MM-DD.", checkDay),
		textInput("until", "To", until, "YYYY-MM-DD", "The last day, as YYYY-MM-DD.", checkDay),
	)
}

// checkDay accepts a day as YYYY-MM-DD.
func checkDay(v string) error {
	if v == "" {
		return errors.New("required: a day as YYYY-MM-DD")
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return fmt.Errorf("%q is not a day: use YYYY-MM-DD", v)
	}
	return nil
}

// submitPeriod shows the period the form holds.
func (p *usagePage) submitPeriod() tea.Cmd {
	since, until := p.form.value("since"), p.form.value("until")
	if until < since {
		p.form.fail("until", fmt.Sprintf("%s is before the first day, %s", until, since))
		return nil
	}
	p.form = nil
	p.custom, p.period = usageRange{since: since, until: until}, customPeriod
	p.table.cursor = 0
	return p.load()
}
