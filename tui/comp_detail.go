package tui

import "strings"

// details draws label/value lines: the selected row of a list in full.
func details(s *Styles, pairs ...[2]string) string {
	lines := make([]string, 0, len(pairs))
	for _, p := range pairs {
		lines = append(lines, s.Label.Render(cell(p[0], 10, false))+" "+p[1])
	}
	return strings.Join(lines, "\n")
}

// listTableHeight is the height left to a list's table above its detail
// pane and banner.
func listTableHeight(c *common, detail string, flash banner) int {
	h := c.bodyHeight
	if detail != "" {
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
	if detail != "" {
		out += "\n\n" + detail
	}
	if fv := flash.view(c.styles, c.width, 2); fv != "" {
		out += "\n" + fv
	}
	return out
}
