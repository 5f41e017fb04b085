package tui

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// tabBar draws the page tabs: "[1 Overview]  2 Traces  3 Keys …", with the
// active one in brackets (and reversed where there is colour). When the
// terminal is too narrow the other tabs shrink to their numbers. right is
// drawn at the right edge when it fits.
func tabBar(s *Styles, titles []string, active, width int, right string) string {
	render := func(short bool) string {
		parts := make([]string, len(titles))
		for i, t := range titles {
			n := strconv.Itoa(i + 1)
			switch {
			case i == active:
				parts[i] = s.TabActive.Render("[" + n + " " + t + "]")
			case short:
				parts[i] = s.TabInactive.Render(" " + n + " ")
			default:
				parts[i] = s.TabInactive.Render(" " + n + " " + t + " ")
			}
		}
		return strings.Join(parts, "")
	}
	bar := render(false)
	if lipgloss.Width(bar) > width {
		bar = render(true)
	}
	if gap := width - lipgloss.Width(bar) - lipgloss.Width(right); right != "" && gap >= 1 {
		bar += strings.Repeat(" ", gap) + right
	}
	return bar
}
