package tui

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/units"
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

type fieldKind int

const (
	textField   fieldKind = iota
	secretField           // typed into a masked input, never shown
	choiceField           // one of a few values, changed with ←/→
	pickField             // any of a list, picked with space (comp_picker.go)
)

// field is one line of a form.
type field struct {
	name    string // the admin API's JSON field name, so a refusal lands here
	label   string
	hint    string // shown while the field has the focus
	kind    fieldKind
	input   textinput.Model
	choices []string
	choice  int
	pick    *picker            // a pickField's list
	check   func(string) error // nil: anything goes
	err     string
}

func textInput(name, label, value, placeholder, hint string, check func(string) error) *field {
	ti := textinput.New()
	ti.Prompt = ""
	ti.Placeholder = placeholder
	// A value holding terminal controls (a name with a bidi override) is
	// shown, and saved back, escaped: the input would print it raw (and
	// silently drop C0/C1 controls).
	ti.SetValue(safe(value))
	ti.CharLimit = 4096
	return &field{name: name, label: label, hint: hint, kind: textField, input: ti, check: check}
}

// secretInput is a masked field: what is typed shows as dots.
func secretInput(name, label, hint string, check func(string) error) *field {
	f := textInput(name, label, "", "", hint, check)
	f.kind = secretField
	f.input.EchoMode = textinput.EchoPassword
	f.input.EchoCharacter = '•'
	f.input.CharLimit = 16 << 10
	return f
}

func choiceInput(name, label string, choices []string, selected, hint string) *field {
	f := &field{name: name, label: label, hint: hint, kind: choiceField, choices: choices}
	for i, c := range choices {
		if c == selected {
			f.choice = i
		}
	}
	return f
}

// value is what the field holds, trimmed (secrets as typed).
func (f *field) value() string {
	switch f.kind {
	case choiceField:
		if f.choice < len(f.choices) {
			return f.choices[f.choice]
		}
		return ""
	case secretField:
		return f.input.Value()
	case pickField:
		return f.pick.value()
	}
	return strings.TrimSpace(f.input.Value())
}

type formResult int

const (
	formEditing formResult = iota
	formSubmitted
	formCancelled
)

// form is a titled list of fields. tab/↓ and shift+tab/↑ move between
// fields, ←/→ change a choice, enter checks every field and submits, esc
// cancels. Errors appear under their field: the form's own checks first,
// then the admin API's refusal (matched by its field name).
type form struct {
	c      *common
	title  string
	note   string // a line under the title
	fields []*field
	focus  int
	err    string // an error that names no field
	busy   bool   // submitted; waiting for the answer
}

const formLabelWidth = 18

func newForm(c *common, title, note string, fields ...*field) *form {
	f := &form{c: c, title: title, note: note, fields: fields}
	for _, fl := range fields {
		fl.input.PromptStyle = c.styles.FormInput
		fl.input.TextStyle = c.styles.FormInput
		fl.input.PlaceholderStyle = c.styles.FormPlaceholder
		fl.input.Cursor.Style = c.styles.FormCursor
		fl.input.Cursor.TextStyle = c.styles.FormInput
		_ = fl.input.Cursor.SetMode(cursor.CursorStatic) // no blink timer: calm, and deterministic in tests
	}
	f.resize()
	f.setFocus(0)
	return f
}

func (f *form) resize() {
	for _, fl := range f.fields {
		fl.input.Width = max(f.c.width-formLabelWidth-6, 8)
	}
}

func (f *form) setFocus(i int) {
	f.fields[f.focus].input.Blur()
	f.focus = (i + len(f.fields)) % len(f.fields)
	f.fields[f.focus].input.Focus()
}

func (f *form) field(name string) *field {
	for _, fl := range f.fields {
		if fl.name == name {
			return fl
		}
	}
	return nil
}

// value is the named field's value ("" if there is no such field).
func (f *form) value(name string) string {
	if fl := f.field(name); fl != nil {
		return fl.value()
	}
	return ""
}

// fail shows an error under field name (or for the whole form) and gives
// the form back to the user.
func (f *form) fail(name, msg string) {
	f.busy = false
	if fl := f.field(name); fl != nil {
		fl.err = msg
		f.setFocus(indexOf(f.fields, fl))
		return
	}
	f.err = msg
}

// failed shows the admin API's answer to a submission.
func (f *form) failed(err error) {
	var ae *admin.APIError
	if errors.As(err, &ae) && ae.Field != "" && f.field(ae.Field) != nil {
		f.fail(ae.Field, strings.TrimPrefix(ae.Message, "invalid "+ae.Field+": "))
		return
	}
	f.fail("", errText(err))
}

// validate runs every field's check and reports whether all passed.
func (f *form) validate() bool {
	first := -1
	for i, fl := range f.fields {
		fl.err = ""
		if fl.check == nil {
			continue
		}
		if err := fl.check(fl.value()); err != nil {
			fl.err = err.Error()
			if first < 0 {
				first = i
			}
		}
	}
	if first >= 0 {
		f.setFocus(first)
		return false
	}
	return true
}

func (f *form) update(msg tea.Msg) (formResult, tea.Cmd) {
	k := f.c.keys
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		f.resize()
		return formEditing, nil
	case tea.KeyMsg:
		if f.busy {
			return formEditing, nil
		}
		fl := f.fields[f.focus]
		switch {
		case key.Matches(msg, k.Cancel):
			return formCancelled, nil
		case fl.kind == pickField && fl.pick.key(msg):
			fl.err = ""
			return formEditing, nil
		case key.Matches(msg, k.Submit):
			f.err = ""
			if !f.validate() {
				return formEditing, nil
			}
			f.busy = true
			return formSubmitted, nil
		case key.Matches(msg, k.NextField):
			f.setFocus(f.focus + 1)
			return formEditing, nil
		case key.Matches(msg, k.PrevField):
			f.setFocus(f.focus - 1)
			return formEditing, nil
		case fl.kind == choiceField && key.Matches(msg, k.Choose):
			if n := len(fl.choices); n > 0 {
				step := 1
				if msg.Type == tea.KeyLeft {
					step = n - 1
				}
				fl.choice = (fl.choice + step) % n
				fl.err = ""
			}
			return formEditing, nil
		case fl.kind == choiceField || fl.kind == pickField:
			return formEditing, nil
		}
		before := fl.input.Value()
		var cmd tea.Cmd
		fl.input, cmd = fl.input.Update(msg)
		if fl.input.Value() != before {
			fl.err = ""
		}
		return formEditing, cmd
	}
	var cmd tea.Cmd
	f.fields[f.focus].input, cmd = f.fields[f.focus].input.Update(msg)
	return formEditing, cmd
}

func (f *form) view() string {
	s := f.c.styles
	var b strings.Builder
	b.WriteString(s.FormTitle.Render(safe(f.title)))
	if f.note != "" {
		b.WriteString("\n" + s.FormHint.Render(safe(f.note)))
	}
	b.WriteString("\n")
	blocks := make([]string, len(f.fields))
	for i, fl := range f.fields {
		var fb strings.Builder
		mark, label := "  ", s.FormLabel
		if i == f.focus {
			mark, label = "› ", s.FormLabelFocused
		}
		fb.WriteString("\n" + mark + label.Render(cell(fl.label, formLabelWidth, false)))
		switch fl.kind {
		case choiceField:
			v := "(none)"
			if len(fl.choices) > 0 {
				v = safe(fl.choices[fl.choice])
			}
			if i == f.focus {
				v = "‹ " + v + " ›"
			}
			fb.WriteString(s.FormInput.Render(v))
		case pickField:
			fb.WriteString(fl.pick.view(s, i == f.focus, f.c.width))
		default:
			fb.WriteString(fl.input.View())
		}
		if fl.err != "" {
			fb.WriteString("\n" + strings.Repeat(" ", formLabelWidth+2) + s.FormError.Render("✗ "+safe(fl.err)))
		}
		blocks[i] = fb.String()
	}
	var tail strings.Builder
	tail.WriteString("\n")
	if h := f.fields[f.focus].hint; h != "" {
		tail.WriteString("\n" + s.FormHint.Render(h))
	}
	if f.err != "" {
		tail.WriteString("\n" + s.FormError.Render("✗ "+safe(f.err)))
	}
	if f.busy {
		tail.WriteString("\n" + s.Muted.Render("Saving…"))
	}
	b.WriteString(f.window(blocks, f.c.bodyHeight-strings.Count(b.String(), "\n")-1-strings.Count(tail.String(), "\n")))
	b.WriteString(tail.String())
	return b.String()
}

// window is the field blocks that fit in room lines: all of them when
// they fit, else those around the focused field, with a line saying how
// many are above and below (the form scrolls with the focus).
func (f *form) window(blocks []string, room int) string {
	lines := func(i int) int { return strings.Count(blocks[i], "\n") }
	total := 0
	for i := range blocks {
		total += lines(i)
	}
	if total <= room || f.c.bodyHeight <= 0 {
		return strings.Join(blocks, "")
	}
	room -= 2 // the "more" lines
	lo, hi := f.focus, f.focus+1
	used := lines(f.focus)
	for grew := true; grew; {
		grew = false
		if hi < len(blocks) && used+lines(hi) <= room {
			used += lines(hi)
			hi++
			grew = true
		}
		if lo > 0 && used+lines(lo-1) <= room {
			lo--
			used += lines(lo)
			grew = true
		}
	}
	s := f.c.styles
	var b strings.Builder
	if lo > 0 {
		b.WriteString("\n  " + s.Muted.Render(fmt.Sprintf("↑ %d more", lo)))
	}
	b.WriteString(strings.Join(blocks[lo:hi], ""))
	if hi < len(blocks) {
		b.WriteString("\n  " + s.Muted.Render(fmt.Sprintf("↓ %d more", len(blocks)-hi)))
	}
	return b.String()
}

// shortHelp is what the footer shows while a form is open.
func (f *form) shortHelp() []key.Binding {
	k := f.c.keys
	out := []key.Binding{k.NextField, k.PrevField}
	switch f.fields[f.focus].kind {
	case choiceField:
		out = append(out, k.Choose)
	case pickField:
		out = append(out, pickHelp)
	}
	return append(out, k.Submit, k.Cancel)
}

func indexOf[T comparable](s []T, v T) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// --- checks ------------------------------------------------------------------

func required(v string) error {
	if v == "" {
		return errors.New("required")
	}
	return nil
}

// wholeNumber accepts "" (0) or a whole number in [lo, hi].
func wholeNumber(lo, hi int64) func(string) error {
	return func(v string) error {
		if v == "" {
			return nil
		}
		n, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		if n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d", lo, hi)
		}
		return nil
	}
}

// dollars accepts "" (0) or an amount of USD ≥ 0 ("5", "2.50", "$3").
// budgetDollars is dollars within a budget's bounds (at most 1e9).
func budgetDollars(v string) error {
	if err := dollars(v); err != nil {
		return err
	}
	if f, _ := strconv.ParseFloat(strings.TrimPrefix(v, "$"), 64); f > 1e9 {
		return fmt.Errorf("%q is more than 1e9 USD", v)
	}
	return nil
}

func dollars(v string) error {
	if v == "" {
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimPrefix(v, "$"), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%q is not an amount of USD (e.g. 5 or 2.50)", v)
	}
	return nil
}

// duration accepts "" (0) or a duration such as 90s, 5m or 30d.
func duration(v string) error {
	if v == "" {
		return nil
	}
	if _, err := units.ParseDuration(v); err != nil {
		return fmt.Errorf("%q is not a duration (e.g. 30s, 5m, 1h, 30d)", v)
	}
	return nil
}

func parseInt(v string) int64 {
	n, _ := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
	return n
}

func parseUSD(v string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimPrefix(v, "$"), 64)
	return f
}

func parseDuration(v string) units.Duration {
	d, _ := units.ParseDuration(v)
	return units.Duration(d)
}

// list splits "a, b; c" into its non-empty parts.
func list(v string, seps string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(seps, r) }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
