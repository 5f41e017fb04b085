package tui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// listItem is what a list page's c and enter act on: the selected row's
// id, how the copy is named, and the Traces filter it drills down to.
type listItem struct {
	label, id, filter string
}

// listItemKey handles a list page's own keys: filter and sort (redraw
// lays the rows out again), c (copy the selected item's id) and enter (its
// traces). sel is nil when nothing is selected; the key then goes on.
func listItemKey(c *common, l *listView, t *table, msg tea.KeyMsg, redraw func(), page string, sel *listItem) (tea.Cmd, bool) {
	if cmd, handled, changed := l.key(msg, t); handled {
		if changed {
			redraw()
		}
		return cmd, true
	}
	switch {
	case key.Matches(msg, c.keys.Copy) && sel != nil:
		return copyToClipboard(c, page, sel.label+" "+sel.id, sel.id), true
	case key.Matches(msg, c.keys.Open) && sel != nil:
		return drillTo(sel.filter), true
	}
	return nil, false
}

// listKey handles the Credentials list's own keys (listItemKey).
func (p *credentialsPage) listKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	var item *listItem
	if sel := p.selected(); sel != nil {
		item = &listItem{"credential id", sel.ID, filterWord("cred", sel.ID)}
	}
	return listItemKey(p.c, &p.list, &p.table, msg, func() { p.setRows() }, p.title(), item)
}

// listKey handles the Providers list's own keys (listItemKey).
func (p *providersPage) listKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	var item *listItem
	if sel := p.selected(); sel != nil {
		item = &listItem{"provider name", sel.Name, filterWord("provider", "="+sel.Name)}
	}
	return listItemKey(p.c, &p.list, &p.table, msg, func() { p.setRows() }, p.title(), item)
}
