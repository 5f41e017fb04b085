package tui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// listKey handles the Credentials list's own keys: filter and sort, c
// (copy the id) and enter (the credential's traces).
func (p *credentialsPage) listKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	k := p.c.keys
	if cmd, handled, changed := p.list.key(msg, &p.table); handled {
		if changed {
			p.setRows()
		}
		return cmd, true
	}
	sel := p.selected()
	switch {
	case key.Matches(msg, k.Copy) && sel != nil:
		return copyToClipboard(p.c, p.title(), "credential id "+sel.ID, sel.ID), true
	case key.Matches(msg, k.Open) && sel != nil:
		return drillTo(filterWord("cred", sel.ID)), true
	}
	return nil, false
}

// listKey handles the Providers list's own keys: filter and sort, c (copy
// the name) and enter (the provider's traces).
func (p *providersPage) listKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	k := p.c.keys
	if cmd, handled, changed := p.list.key(msg, &p.table); handled {
		if changed {
			p.setRows()
		}
		return cmd, true
	}
	sel := p.selected()
	switch {
	case key.Matches(msg, k.Copy) && sel != nil:
		return copyToClipboard(p.c, p.title(), "provider name "+sel.Name, sel.Name), true
	case key.Matches(msg, k.Open) && sel != nil:
		return drillTo(filterWord("provider", "="+sel.Name)), true
	}
	return nil, false
}
