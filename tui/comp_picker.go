package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// pickOption is one choice of a pick field: value is what the form sends,
// label what the screen shows beside it.
type pickOption struct{ value, label string }

// picker is a form field that picks any number of options from a list
// (a key's credentials): ↑/↓ move among the options (past the first or
// the last: to the previous or next field), space picks or drops one.
// Its options may change while the form is open (another provider
// chosen): only the picked values still offered count.
type picker struct {
	empty   string // shown when none is picked
	options func() []pickOption
	picked  map[string]bool
	cursor  int
	shown   string // the options' values the cursor was on: other options put it back on the first
}

// pickerRows bounds the options shown at once.
const pickerRows = 6

// pickInput is a pick field, with the values in picked picked.
func pickInput(name, label, empty string, options func() []pickOption, picked []string, hint string) *field {
	pk := &picker{empty: empty, options: options, picked: make(map[string]bool, len(picked))}
	for _, v := range picked {
		pk.picked[v] = true
	}
	return &field{name: name, label: label, hint: hint, kind: pickField, pick: pk}
}

// value is the picked values, in the options' order, comma-separated.
func (pk *picker) value() string {
	var out []string
	for _, o := range pk.options() {
		if pk.picked[o.value] {
			out = append(out, o.value)
		}
	}
	return strings.Join(out, ", ")
}

// current is the options, with the cursor back on the first when they
// changed (another provider chosen).
func (pk *picker) current() []pickOption {
	opts := pk.options()
	var b strings.Builder
	for _, o := range opts {
		b.WriteString(o.value + "\n")
	}
	if b.String() != pk.shown {
		pk.shown, pk.cursor = b.String(), 0
	}
	pk.cursor = min(pk.cursor, max(len(opts)-1, 0))
	return opts
}

// key handles ↑/↓ inside the list and space; it reports false for a key
// that is the form's (tab, enter, ↑ on the first option, ↓ on the last).
func (pk *picker) key(msg tea.KeyMsg) bool {
	opts := pk.current()
	switch {
	case msg.Type == tea.KeySpace || msg.String() == " ":
		if len(opts) > 0 {
			v := opts[pk.cursor].value
			pk.picked[v] = !pk.picked[v]
		}
		return true
	case msg.Type == tea.KeyDown && pk.cursor < len(opts)-1:
		pk.cursor++
		return true
	case msg.Type == tea.KeyUp && pk.cursor > 0:
		pk.cursor--
		return true
	}
	return false
}

// view is the field's value: the picks on one line, and while it has the
// focus the options under it, a window of them around the cursor.
func (pk *picker) view(s *Styles, focused bool, width int) string {
	opts := pk.current()
	v := pk.value()
	n := 0
	if v != "" {
		n = strings.Count(v, ",") + 1
	}
	line := s.FormPlaceholder.Render(pk.empty)
	if n > 0 {
		line = s.FormInput.Render(safe(v))
	}
	if !focused {
		return line
	}
	var b strings.Builder
	b.WriteString(line + s.Muted.Render(fmt.Sprintf("  (%d of %d; space picks)", n, len(opts))))
	if len(opts) == 0 {
		b.WriteString("\n" + strings.Repeat(" ", formLabelWidth+2) + s.Muted.Render("none to choose from"))
		return b.String()
	}
	first := max(min(pk.cursor-pickerRows/2, len(opts)-pickerRows), 0)
	for i := first; i < len(opts) && i < first+pickerRows; i++ {
		box := "[ ] "
		if pk.picked[opts[i].value] {
			box = "[x] "
		}
		text := cell(box+safe(opts[i].label), max(width-formLabelWidth-3, 10), false)
		st := s.FormInput
		if i == pk.cursor {
			st = s.FormLabelFocused
			text = "›" + text
		} else {
			text = " " + text
		}
		b.WriteString("\n" + strings.Repeat(" ", formLabelWidth+1) + st.Render(text))
	}
	if len(opts) > pickerRows {
		b.WriteString("\n" + strings.Repeat(" ", formLabelWidth+2) + s.Muted.Render(fmt.Sprintf("%d more (↑/↓)", len(opts)-pickerRows)))
	}
	return b.String()
}

// pickHelp is the footer's binding while a pick field has the focus.
var pickHelp = key.NewBinding(key.WithKeys(" "), key.WithHelp("space/↑/↓", "pick"))
