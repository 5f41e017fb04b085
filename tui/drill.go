package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// drillMsg asks the root model to show the traces that match filter (the
// Traces page's filter syntax); esc on the Traces page then comes back to
// the page that asked, as it was (row, filter, sort).
type drillMsg struct{ filter string }

func drillTo(filter string) tea.Cmd {
	return func() tea.Msg { return drillMsg{filter: filter} }
}

// tracesBinding is enter on a list page, in ? help.
var tracesBinding = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "its traces"))

// Short forms of the list pages' keys for their footers, where room is scarce.
var (
	footAdd     = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add"))
	footTraces  = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "traces"))
	footFilter  = key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter"))
	footSort    = key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort"))
	footRevoked = key.NewBinding(key.WithKeys("H"), key.WithHelp("H", "revoked"))
	footCopy    = key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy"))
	footGroup   = key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "group"))
	footPeriod  = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "period"))
	footDates   = key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "from/to"))
)

// drillReturn is where esc on the Traces page goes back to.
type drillReturn struct {
	page   int
	filter string // the Traces page's filter before the drill
}

// filterWord is field:value for a trace filter; a value the filter could
// not read as one word (a space in it) is cut at the space, which still
// narrows the list.
func filterWord(field, value string) string {
	if i := strings.IndexFunc(value, func(r rune) bool { return r == ' ' || r == '\t' }); i >= 0 {
		return field + ":" + value[:i]
	}
	return field + ":" + value
}

func (m *Model) traces() (int, *tracesPage) {
	for i, p := range m.pages {
		if tp, ok := p.(*tracesPage); ok {
			return i, tp
		}
	}
	return -1, nil
}

// drillDown shows the Traces page filtered, remembering where it came from.
func (m *Model) drillDown(msg drillMsg) tea.Cmd {
	i, tp := m.traces()
	if i < 0 {
		return nil
	}
	back := &drillReturn{page: m.active, filter: tp.input.Value()}
	cmd := m.show(i)
	m.back = back
	tp.setFilterText(msg.filter)
	return cmd
}

// drillBack is esc on the Traces page after a drill: back to the page it
// came from, the Traces filter as it was. ok is false when esc is not
// for it (a trace is open, no drill, the filter field has the keys).
func (m *Model) drillBack(msg tea.KeyMsg) (tea.Cmd, bool) {
	i, tp := m.traces()
	if m.back == nil || m.active != i || tp.filtering || tp.detail != nil || !key.Matches(msg, m.c.keys.Back) {
		return nil, false
	}
	back := m.back
	tp.setFilterText(back.filter)
	return m.show(back.page), true
}

// drillHelp adds "esc back to …" to the Traces page's footer after a drill.
func (m *Model) drillHelp(b []key.Binding) []key.Binding {
	i, tp := m.traces()
	if m.back == nil || m.active != i || tp.filtering || tp.detail != nil {
		return b
	}
	esc := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back to "+m.pages[m.back.page].title()))
	return append([]key.Binding{esc}, b...)
}

// setFilterText applies a filter as if it had been typed and kept.
func (p *tracesPage) setFilterText(text string) {
	p.filtering = false
	p.input.Blur()
	p.input.SetValue(text)
	p.detail = nil
	p.applyFilter()
}
