package tui

import "github.com/charmbracelet/lipgloss"

// Column widths come from the content and the terminal, as in k9s:
//
//   - Each column's natural width is its widest cell, title included, at
//     least its min and at most its max (defaultColumnMax when max is 0).
//   - When the natural widths do not fit, the least important columns
//     (lowest keep) give up room first, the widest of them first, down to
//     their min; only then the more important ones. A cut cell ends in "…".
//   - When they fit, the spare room is shared out: columns whose cells were
//     capped grow towards their widest cell, a fill column (a bar) takes up
//     to fillColumnMax, then every column gets up to columnBreath more cells
//     of air. What is left stays blank at the right: no column takes all
//     the room.

const (
	defaultColumnMax = 32
	fillColumnMax    = 40
	columnBreath     = 2
)

// measure is the widest cell of each column among rows [from, to) and the
// titles, as drawn (made safe). A fill column is not measured.
func (t table) measure(from, to int) []int {
	wide := make([]int, len(t.cols))
	for i, c := range t.cols {
		if !c.fill {
			wide[i] = lipgloss.Width(c.title)
		}
	}
	for r := max(from, 0); r < to && r < t.n; r++ {
		vals, _ := t.row(r)
		for i := range t.cols {
			if i < len(vals) && !t.cols[i].fill {
				wide[i] = max(wide[i], lipgloss.Width(safe(vals[i])))
			}
		}
	}
	return wide
}

// widths shares width among the columns (2 cells go to the cursor mark,
// 1 between columns), sizing them by their cells: every row's, for a list
// set by setRows, else those of the rowsH rows on screen.
func (t table) widths(width, rowsH int) []int {
	wide := t.measured
	if wide == nil {
		off := t.first(rowsH)
		wide = t.measure(off, off+rowsH)
	}
	return t.layout(width, wide)
}

// layout fits columns whose widest cells are wide into width.
func (t table) layout(width int, wide []int) []int {
	n := len(t.cols)
	w := make([]int, n)
	avail := width - 2 - (n - 1)
	for i, c := range t.cols {
		w[i] = max(min(wide[i], c.cap()), c.min)
		avail -= w[i]
	}
	if avail < 0 {
		t.shrink(w, -avail)
		return w
	}
	// Capped cells first, then a bar, then air.
	avail = share(w, avail, func(i int) int { return max(wide[i], w[i]) })
	for i, c := range t.cols {
		if c.fill && avail > 0 {
			add := min(avail, max(fillColumnMax-w[i], 0))
			w[i] += add
			avail -= add
		}
	}
	base := append([]int(nil), w...)
	share(w, avail, func(i int) int { return base[i] + columnBreath })
	return w
}

// share gives room out a cell at a time, left to right, to the columns
// below their limit, and returns what is left.
func share(w []int, room int, limit func(i int) int) int {
	for room > 0 {
		gave := false
		for i := range w {
			if room > 0 && w[i] < limit(i) {
				w[i]++
				room--
				gave = true
			}
		}
		if !gave {
			break
		}
	}
	return room
}

// shrink takes over cells from the columns: from the least important
// first (the widest of them first, the rightmost on a tie) down to their
// min, then from any column down to 3 cells.
func (t table) shrink(w []int, over int) {
	for floor := 0; floor < 2 && over > 0; floor++ {
		for over > 0 {
			pick := -1
			for i, c := range t.cols {
				lo := c.min
				if floor == 1 {
					lo = min(c.min, 3)
				}
				if w[i] <= lo {
					continue
				}
				if pick < 0 || c.keep < t.cols[pick].keep ||
					(c.keep == t.cols[pick].keep && w[i] >= w[pick]) {
					pick = i
				}
			}
			if pick < 0 {
				break
			}
			w[pick]--
			over--
		}
	}
}

// heading is the column's title in w cells: its short form when the
// title does not fit.
func (c column) heading(w int) string {
	if c.short != "" && lipgloss.Width(c.title) > w {
		return c.short
	}
	return c.title
}

// cap is the widest the column's natural width may be.
func (c column) cap() int {
	if c.max > 0 {
		return max(c.max, c.min)
	}
	return max(defaultColumnMax, c.min)
}
