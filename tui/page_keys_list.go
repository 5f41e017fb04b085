package tui

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aigw/aigw/admin"
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
		if k.Status == admin.KeyRevoked {
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

// credentialsInput is the key form's pool: the chosen provider's
// credentials (name, id, state) to pick from. A credential of the pool
// that is not listed (removed since) stays picked, and says so.
func (p *keysPage) credentialsInput(k *admin.Key, pool []string) *field {
	provider := func() string {
		if k != nil {
			return k.Provider
		}
		if p.form != nil {
			return p.form.value("provider")
		}
		return ""
	}
	options := func() []pickOption {
		var creds []*admin.Credential
		nameW := 1
		for i := range p.creds {
			if c := &p.creds[i]; c.Provider == provider() {
				creds = append(creds, c)
				nameW = max(nameW, min(len(c.Name), 16))
			}
		}
		var out []pickOption
		seen := make(map[string]bool)
		for _, c := range creds {
			state, _ := credState(c, p.c)
			seen[c.ID] = true
			out = append(out, pickOption{value: c.ID, label: cell(orDash(c.Name), nameW, false) + "  " + c.ID + "  " + state})
		}
		if k != nil {
			for _, id := range pool {
				if !seen[id] {
					out = append(out, pickOption{value: id, label: cell("-", nameW, false) + "  " + id + "  not found"})
				}
			}
		}
		return out
	}
	return pickInput("credentials", "Credentials", "every credential of the provider", options, pool,
		"The key's pool: space picks or drops the credential under the cursor (↑/↓). None picked: all of the provider's.")
}

// lastUsedText is a key's last use relative to now: "3m ago", "never".
func lastUsedText(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	d := now.Sub(*t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// lastUsedDetail is the detail pane's last use: the time and how long ago.
func lastUsedDetail(t *time.Time, c *common) string {
	if t == nil {
		return "never"
	}
	return t.In(c.loc).Format("2006-01-02 15:04") + " (" + lastUsedText(t, c.now()) + ")"
}

// lastUsedSortKey sorts LAST USED (the 9th column) by time, never first.
func lastUsedSortKey(t *time.Time) []string {
	keys := make([]string, 9)
	keys[8] = "-"
	if t != nil {
		keys[8] = strconv.FormatInt(t.Unix(), 10)
	}
	return keys
}
