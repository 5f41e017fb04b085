package tui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// confirm is a yes/no dialog in front of a destructive action. The action
// is a command that only runs when the answer is yes.
type confirm struct {
	open     bool
	question string // "Revoke key app (key_…)?"
	detail   string // what follows from it
	action   tea.Cmd
}

func (d *confirm) ask(question, detail string, action tea.Cmd) {
	*d = confirm{open: true, question: question, detail: detail, action: action}
}

// update answers the dialog: y runs the action, n or esc drops it. Other
// keys are swallowed while it is open.
func (d *confirm) update(msg tea.KeyMsg, k *KeyMap) tea.Cmd {
	switch {
	case key.Matches(msg, k.Yes):
		action := d.action
		*d = confirm{}
		return action
	case key.Matches(msg, k.No):
		*d = confirm{}
	}
	return nil
}

// view draws the dialog centred in width × height.
func (d confirm) view(s *Styles, k *KeyMap, width, height int) string {
	inner := max(min(width-8, 60), 10)
	body := s.Value.Render(ansi.Wordwrap(safe(d.question), inner, " "))
	if d.detail != "" {
		body += "\n\n" + ansi.Wordwrap(safe(d.detail), inner, " ")
	}
	body += "\n\n" + s.Help.ShortKey.Render(k.Yes.Help().Key) + " " + k.Yes.Help().Desc +
		"    " + s.Help.ShortKey.Render(k.No.Help().Key) + " " + k.No.Help().Desc
	box := s.Dialog.Render(body)
	return lipgloss.Place(width, height, lipgloss.Center, lipgloss.Center, box)
}
