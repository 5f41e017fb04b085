package tui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// modal is what a management page opens over its table: a form, or a
// confirmation in front of a destructive action. Pages embed it; while one
// is open it has the keyboard.
type modal struct {
	form    *form
	confirm confirm
}

// modalOpen reports whether a form or a confirmation has the keyboard.
func (m *modal) modalOpen() bool { return m.form != nil || m.confirm.open }

// modalHelp is the open form's or dialog's key help; nil when neither is open.
func (m *modal) modalHelp(k *KeyMap) []key.Binding {
	switch {
	case m.form != nil:
		return m.form.shortHelp()
	case m.confirm.open:
		return []key.Binding{k.Yes, k.No}
	}
	return nil
}

// modalKey hands a key to the open dialog or form; submit runs when the
// form is submitted. handled is false when neither is open.
func (m *modal) modalKey(msg tea.KeyMsg, k *KeyMap, submit func() tea.Cmd) (cmd tea.Cmd, handled bool) {
	switch {
	case m.confirm.open:
		return m.confirm.update(msg, k), true
	case m.form != nil:
		res, cmd := m.form.update(msg)
		switch res {
		case formCancelled:
			m.form = nil
		case formSubmitted:
			return submit(), true
		}
		return cmd, true
	}
	return nil, false
}

// modalResize passes a new window size to the open form.
func (m *modal) modalResize(msg tea.WindowSizeMsg) {
	if m.form != nil {
		m.form.update(msg)
	}
}

// afterSave finishes a form's save. Success closes the form; a failure
// stays in the form while it is open, else it goes to *flash. It reports
// whether the save succeeded.
func (m *modal) afterSave(err error, flash *banner) bool {
	if err == nil {
		m.form = nil
		return true
	}
	if m.form != nil {
		m.form.failed(err)
	} else {
		*flash = errBanner(err)
	}
	return false
}
