package tui

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

// listView is what a list page (Keys, Credentials, Providers, Usage) adds
// to its table, as k9s does for every resource: a "/" filter (a
// case-insensitive substring of any visible cell), a sort column ("s"
// cycles it, "S" reverses it, the header shows ▲/▼) and the selection kept
// on the same item (by id) whatever the filter or the order.
//
// The page hands every item to show as a listRow; shown is then the order
// of the items on screen (indices into what it handed over).
type listView struct {
	c      *common
	noun   string // "key": "No key matches …"
	empty  string // the table's own empty text (no items at all)
	titles []string

	filtering bool // the filter field has the keys
	input     textinput.Model
	query     string // the filter applied, lower case ("" none)

	sortCol int  // index in the table's columns; -1: the page's own order
	desc    bool // reversed

	shown []int
	total int // items not hidden
}

// listRow is one item as the list shows it.
type listRow struct {
	id    string
	cells []string
	tone  tone
	// sortKeys, where set (non-empty), sort a column instead of its cell
	// (a time shown as "3m ago").
	sortKeys []string
	hidden   bool // left out before filtering (a revoked key while they are hidden)
}

func newListView(c *common, t *table, noun string) listView {
	in := textinput.New()
	in.Prompt = "/ "
	in.Placeholder = "text in any column (esc clears)"
	in.PromptStyle = c.styles.Title
	in.PlaceholderStyle = c.styles.FormPlaceholder
	in.Cursor.Style = c.styles.FormCursor
	in.CharLimit = 256
	_ = in.Cursor.SetMode(cursor.CursorStatic)
	l := listView{c: c, noun: noun, empty: t.empty, input: in, sortCol: -1}
	for _, col := range t.cols {
		l.titles = append(l.titles, col.title)
	}
	return l
}

// active reports whether a filter is applied.
func (l *listView) active() bool { return l.query != "" }

// at is the index (in the rows last applied) of the item under the
// cursor; -1 when none.
func (l *listView) at(t *table) int {
	if t.cursor >= 0 && t.cursor < len(l.shown) {
		return l.shown[t.cursor]
	}
	return -1
}

// apply filters and sorts rows into t, keeping the cursor on its item. gone
// is the selected item's id when it left the list for good (it is not
// merely filtered out or hidden).
func (l *listView) apply(t *table, rows []listRow) (gone string) {
	l.shown, l.total = l.shown[:0], 0
	for i, r := range rows {
		if !r.hidden {
			l.total++
		}
		if !r.hidden && l.matches(r) {
			l.shown = append(l.shown, i)
		}
	}
	if l.sortCol >= 0 {
		col := l.sortCol
		slices.SortStableFunc(l.shown, func(a, b int) int {
			c := compareCells(rows[a].sortKey(col), rows[b].sortKey(col))
			if l.desc {
				return -c
			}
			return c
		})
	}
	for i := range t.cols {
		if i < len(l.titles) {
			t.cols[i].title = l.titles[i]
		}
	}
	if l.sortCol >= 0 && l.sortCol < len(t.cols) {
		arrow := "▲"
		if l.desc {
			arrow = "▼"
		}
		t.cols[l.sortCol].title = l.titles[l.sortCol] + arrow
	}
	t.empty = l.empty
	if l.active() {
		t.empty = "No " + l.noun + " matches `" + safe(l.input.Value()) + "` (esc clears the filter)."
	}
	ids := make([]string, len(l.shown))
	cells := make([][]string, len(l.shown))
	tones := make([]tone, len(l.shown))
	for j, i := range l.shown {
		ids[j], cells[j], tones[j] = rows[i].id, rows[i].cells, rows[i].tone
	}
	gone = t.setItems(ids, cells, tones)
	if gone != "" {
		for _, r := range rows {
			if r.id == gone {
				return "" // still there, filtered out or hidden
			}
		}
	}
	return gone
}

func (l *listView) matches(r listRow) bool {
	if l.query == "" {
		return true
	}
	for _, c := range r.cells {
		if strings.Contains(strings.ToLower(c), l.query) {
			return true
		}
	}
	return false
}

func (r listRow) sortKey(col int) string {
	if col < len(r.sortKeys) && r.sortKeys[col] != "" {
		return r.sortKeys[col]
	}
	if col < len(r.cells) {
		return r.cells[col]
	}
	return ""
}

// compareCells orders two cells: numbers as numbers ("4,210", "3.5M",
// "$0.0049+?", "60.0%"), a blank or "-" before anything, text without
// regard to case.
func compareCells(a, b string) int {
	na, aok := cellNumber(a)
	nb, bok := cellNumber(b)
	ea, eb := a == "" || a == "-", b == "" || b == "-"
	switch {
	case ea || eb:
		return cmp.Compare(btoi(!ea), btoi(!eb))
	case aok && bok:
		return cmp.Compare(na, nb)
	case aok != bok:
		return cmp.Compare(btoi(!aok), btoi(!bok)) // numbers first
	}
	return cmp.Compare(strings.ToLower(a), strings.ToLower(b))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cellNumber reads a number as the tables print them.
func cellNumber(s string) (float64, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "$"), "+?")
	s = strings.TrimSuffix(s, "%")
	s = strings.ReplaceAll(s, ",", "")
	mult := 1.0
	if n := len(s); n > 1 {
		switch s[n-1] {
		case 'k':
			mult, s = 1e3, s[:n-1]
		case 'M':
			mult, s = 1e6, s[:n-1]
		case 'G':
			mult, s = 1e9, s[:n-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f * mult, true
}

// key handles "/", "s", "S" and esc (clearing the filter), and every key
// while the filter is being typed. handled says the key was the list's;
// changed that the rows must be applied again.
func (l *listView) key(msg tea.KeyMsg, t *table) (cmd tea.Cmd, handled, changed bool) {
	k := l.c.keys
	if l.filtering {
		switch msg.Type {
		case tea.KeyEnter:
			l.filtering = false
			l.input.Blur()
			return nil, true, false
		case tea.KeyEsc:
			l.filtering = false
			l.input.Blur()
			l.input.SetValue("")
		default:
			l.input, cmd = l.input.Update(msg)
		}
		l.query = strings.ToLower(strings.TrimSpace(l.input.Value()))
		return cmd, true, true
	}
	switch {
	case key.Matches(msg, k.ListFilter):
		l.filtering = true
		return l.input.Focus(), true, false
	case key.Matches(msg, k.Back) && l.active():
		l.input.SetValue("")
		l.query = ""
		return nil, true, true
	case key.Matches(msg, k.Sort):
		l.nextSort()
		return nil, true, true
	case key.Matches(msg, k.SortReverse):
		if l.sortCol < 0 {
			l.nextSort()
		}
		l.desc = !l.desc
		return nil, true, true
	}
	return nil, false, false
}

// nextSort moves the sort to the next titled column, after the last back
// to the page's own order.
func (l *listView) nextSort() {
	for i := l.sortCol + 1; i < len(l.titles); i++ {
		if l.titles[i] != "" {
			l.sortCol, l.desc = i, false
			return
		}
	}
	l.sortCol, l.desc = -1, false
}

// status is the line above a filtered or sorted table ("" when neither):
// the filter being typed, or what is applied, then the page's note.
func (l *listView) status(note string) string {
	s := l.c.styles
	if l.filtering {
		return l.input.View()
	}
	var parts []string
	if l.active() {
		parts = append(parts, s.Warn.Render("filter `"+safe(l.input.Value())+"`: "+strconv.Itoa(len(l.shown))+" of "+strconv.Itoa(l.total)+" shown (esc clears)"))
	}
	if l.sortCol >= 0 {
		dir := "▲"
		if l.desc {
			dir = "▼"
		}
		parts = append(parts, s.Muted.Render("sorted by "+l.titles[l.sortCol]+" "+dir+" (s, S)"))
	}
	if note != "" {
		parts = append(parts, s.Muted.Render(note))
	}
	return strings.Join(parts, s.Muted.Render("  ·  "))
}

// layoutCommon is common with the status line's room taken from the body.
func (l *listView) layoutCommon(note string) *common {
	if l.status(note) == "" {
		return l.c
	}
	cc := *l.c
	cc.bodyHeight = max(cc.bodyHeight-1, 1)
	return &cc
}

// layout is listLayout under the list's status line.
func (l *listView) layout(t table, detail string, flash banner, note string) string {
	st := l.status(note)
	if st == "" {
		return listLayout(l.c, t, detail, flash)
	}
	return st + "\n" + listLayout(l.layoutCommon(note), t, detail, flash)
}

// tableHeight is the table's height in layout (for its paging keys).
func (l *listView) tableHeight(detail string, flash banner, note string) int {
	return listTableHeight(l.layoutCommon(note), detail, flash)
}

// help is the footer's bindings while the filter is typed; nil otherwise.
func (l *listView) help() []key.Binding {
	if !l.filtering {
		return nil
	}
	return []key.Binding{
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
	}
}
