package tui

import (
	"github.com/aigw/aigw/store"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// listKey handles the Keys list's own keys: filter and sort, H (revoked
// keys shown or hidden), c (copy the id) and enter (the key's traces).
func (p *keysPage) listKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	k := p.c.keys
	if cmd, handled, changed := p.list.key(msg, &p.table); handled {
		if changed {
			p.setRows()
		}
		return cmd, true
	}
	switch {
	case key.Matches(msg, k.ShowRevoked):
		p.showRevoked = !p.showRevoked
		p.setRows()
		if n := p.revoked(); p.showRevoked {
			p.flash = infoBanner("Revoked keys are listed (" + plural(n, "key", "keys") + "); H hides them.")
		} else {
			p.flash = infoBanner("Revoked keys are hidden (" + plural(n, "key", "keys") + "); H lists them.")
		}
		return nil, true
	case key.Matches(msg, k.Copy):
		if sel := p.selected(); sel != nil {
			return copyToClipboard(p.c, p.title(), "key id "+sel.ID, sel.ID), true
		}
		return nil, true
	case key.Matches(msg, k.Open):
		if sel := p.selected(); sel != nil {
			return drillTo(filterWord("key", sel.ID)), true
		}
		return nil, true
	}
	return nil, false
}

// revoked counts the revoked keys.
func (p *keysPage) revoked() int {
	n := 0
	for _, k := range p.keys {
		if k.Status == store.KeyRevoked {
			n++
		}
	}
	return n
}

// hiddenNote says how many revoked keys are not listed ("" when none).
func (p *keysPage) hiddenNote() string {
	if n := p.revoked(); n > 0 && !p.showRevoked {
		return plural(n, "revoked key", "revoked keys") + " hidden (H shows)"
	}
	return ""
}
