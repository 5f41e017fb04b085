package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// column is one column of a table, as wide as its widest cell within
// [min, max] (see comp_columns.go for how the room is shared).
type column struct {
	title string
	short string // the title when the column is narrower than title
	min   int
	max   int  // the widest its cells make it (0: defaultColumnMax)
	keep  int  // importance: when room is short, lower keep is cut first
	fill  bool // not measured: a bar that takes spare room, up to fillColumnMax
	right bool
	style *lipgloss.Style // drawn in this style (nil: the row's)
}

// tone colours a whole row; the row's words still say what it means.
type tone int

const (
	toneNormal tone = iota
	toneGood
	toneWarn
	toneBad
	toneMuted
)

// table is a scrolling list with a cursor. It only draws rows and moves the
// cursor; what a row means is its page's business. Cells are plain text and
// every one is made safe for the terminal here (a page styles a column
// through its column's style, never inside a cell).
//
// Rows come from a function so that a long list (the traces) is only
// formatted where it is on screen.
type table struct {
	cols   []column
	n      int                          // rows
	row    func(i int) ([]string, tone) // the cells of row i
	cursor int
	offset int
	empty  string // shown when there are no rows

	// ids name the rows of a list set by setItems, so that the cursor
	// stays on the same item (not the same row number) when the list is
	// reloaded.
	ids []string
	// want is an item to select when a reload lists it (one just
	// created); moving the cursor forgets it.
	want string
	// measured is the widest cell of each column of a list set by
	// setRows; nil for rows drawn by a function, measured where on screen.
	measured []int
}

// setItems shows rows named by ids and keeps the cursor on the item it was
// on. If that item is no longer listed the cursor rests on its neighbour
// (the row that took its place, or the last) and gone is its id.
func (t *table) setItems(ids []string, rows [][]string, tones []tone) (gone string) {
	prev, old, at := t.selectedID(), t.ids, t.cursor
	t.ids = ids
	t.setRows(rows, tones)
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	if i, ok := index[t.want]; ok && t.want != "" {
		t.cursor, t.want = i, ""
		return ""
	}
	if prev == "" {
		return ""
	}
	if i, ok := index[prev]; ok {
		t.cursor = i
		return ""
	}
	// Its neighbour: the first of the items after it that is still
	// listed, else the nearest before it.
	for _, id := range old[at+1:] {
		if i, ok := index[id]; ok {
			t.cursor = i
			return prev
		}
	}
	for j := at - 1; j >= 0; j-- {
		if i, ok := index[old[j]]; ok {
			t.cursor = i
			return prev
		}
	}
	return prev
}

// goneBanner says that the selected item (what, id) left the list.
func goneBanner(what, id string) banner {
	return infoBanner(fmt.Sprintf("%s %s is no longer listed (removed elsewhere); the cursor moved to its neighbour.", what, safe(id)))
}

// selectedID is the id of the item under the cursor ("" when none).
func (t *table) selectedID() string {
	if t.cursor >= 0 && t.cursor < len(t.ids) && t.cursor < t.n {
		return t.ids[t.cursor]
	}
	return ""
}

// setRows shows rows (tones may be nil or shorter: toneNormal).
func (t *table) setRows(rows [][]string, tones []tone) {
	t.setSource(len(rows), func(i int) ([]string, tone) {
		if i < len(tones) {
			return rows[i], tones[i]
		}
		return rows[i], toneNormal
	})
	t.measured = t.measure(0, t.n)
}

// setSource shows n rows drawn by row.
func (t *table) setSource(n int, row func(i int) ([]string, tone)) {
	t.n, t.row, t.measured = n, row, nil
	t.clamp()
}

func (t *table) clamp() {
	if t.cursor >= t.n {
		t.cursor = t.n - 1
	}
	if t.cursor < 0 {
		t.cursor = 0
	}
}

// update moves the cursor on a navigation key and reports whether it did;
// height is the table's height on screen, header included (as for view).
func (t *table) update(msg tea.KeyMsg, k *KeyMap, height int) bool {
	rowsH := max(height-1, 1)
	switch {
	case key.Matches(msg, k.Up):
		t.cursor--
	case key.Matches(msg, k.Down):
		t.cursor++
	case key.Matches(msg, k.PageUp):
		t.cursor -= rowsH
	case key.Matches(msg, k.PageDown):
		t.cursor += rowsH
	case key.Matches(msg, k.Top):
		t.cursor = 0
	case key.Matches(msg, k.Bottom):
		t.cursor = t.n - 1
	default:
		return false
	}
	t.want = ""
	t.clamp()
	t.offset = t.first(rowsH)
	return true
}

// first is the first row to draw so that the cursor is in sight among
// rowsH rows.
func (t table) first(rowsH int) int {
	off := t.offset
	if t.cursor < off {
		off = t.cursor
	}
	if rowsH > 0 && t.cursor >= off+rowsH {
		off = t.cursor - rowsH + 1
	}
	if off > t.n-rowsH {
		off = t.n - rowsH
	}
	return max(off, 0)
}

// view draws the header and the rows that fit in height lines (header
// included), keeping the cursor in sight.
func (t table) view(s *Styles, width, height int) string {
	rowsH := height - 1
	w := t.widths(width, max(rowsH, 1))
	var b strings.Builder
	head := make([]string, len(t.cols))
	for i, c := range t.cols {
		head[i] = cell(c.heading(w[i]), w[i], c.right)
	}
	b.WriteString(s.TableHeader.Render("  " + strings.Join(head, " ")))
	if t.n == 0 {
		if rowsH > 0 {
			b.WriteString("\n" + s.Muted.Render("  "+t.empty))
		}
		return b.String()
	}
	if rowsH < 1 {
		return b.String()
	}
	off := t.first(rowsH)
	for r := off; r < t.n && r < off+rowsH; r++ {
		vals, tn := t.row(r)
		cells := make([]string, len(t.cols))
		for i, c := range t.cols {
			v := ""
			if i < len(vals) {
				v = vals[i]
			}
			cells[i] = cell(safe(v), w[i], c.right)
			if c.style != nil {
				cells[i] = c.style.Render(cells[i])
			}
		}
		line := strings.Join(cells, " ")
		b.WriteString("\n")
		if r == t.cursor {
			b.WriteString(s.TableSelected.Render("› " + line))
			continue
		}
		b.WriteString("  " + toneStyle(s, tn).Render(line))
	}
	return b.String()
}

func toneStyle(s *Styles, tn tone) lipgloss.Style {
	switch tn {
	case toneGood:
		return s.Good
	case toneWarn:
		return s.Warn
	case toneBad:
		return s.Bad
	case toneMuted:
		return s.Muted
	}
	return s.Plain
}
