package tui

import "strings"

// detailLine is one line of a detail pane: a label, then an emphasized
// head and the rest of the value, both plain text (details makes them safe
// and styles them).
type detailLine struct{ label, head, text string }

// detailLabelWidth is the width of a details line's label.
const detailLabelWidth = 10

// details draws label/value lines: the selected row of a list in full.
func details(s *Styles, lines ...detailLine) string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		v := safe(l.text)
		if l.head != "" {
			v = s.Value.Render(safe(l.head)) + v
		}
		out = append(out, s.Label.Render(cell(l.label, detailLabelWidth, false))+" "+v)
	}
	return strings.Join(out, "\n")
}

// listTableHeight is the height left to a list's table above its detail
// pane (wrapped to the screen) and banner.
func listTableHeight(c *common, detail string, flash banner) int {
	h := c.bodyHeight
	if detail = wrapDetail(detail, c.width); detail != "" {
		h -= strings.Count(detail, "\n") + 2 // plus a blank line
	}
	if fv := flash.view(c.styles, c.width, 2); fv != "" {
		h -= strings.Count(fv, "\n") + 1
	}
	return max(h, 2)
}

// listLayout is the management pages' screen: the table, the selected
// row's details under it, and the banner of the last action at the bottom.
func listLayout(c *common, t table, detail string, flash banner) string {
	tableH := listTableHeight(c, detail, flash)
	out := fitLines(t.view(c.styles, c.width, tableH), c.width, tableH)
	if detail = wrapDetail(detail, c.width); detail != "" {
		out += "\n\n" + detail
	}
	if fv := flash.view(c.styles, c.width, 2); fv != "" {
		out += "\n" + fv
	}
	return out
}
