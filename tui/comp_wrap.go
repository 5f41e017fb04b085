package tui

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// Long values in detail panes (an upstream's error, a URL, a model) wrap
// onto the following lines, indented under the value, instead of being
// cut at the screen's edge.

// detailIndent is where a details line's value starts: its label and a space.
const detailIndent = detailLabelWidth + 1

// wrapBreaks are where a value may wrap besides spaces and hyphens: URLs and
// paths break after a slash, lists after a comma.
const wrapBreaks = "/,"

// hangWrap wraps one line (plain or styled) to width; the lines it adds
// start indent cells in. A screen too narrow to hang the value is left to
// be cut.
func hangWrap(line string, width, indent int) string {
	w := lipgloss.Width(line)
	if w <= width || width-indent < 10 {
		return line
	}
	head, rest := ansi.Cut(line, 0, indent), ansi.Cut(line, indent, w)
	return head + hangLines(ansi.Wrap(rest, width-indent, wrapBreaks), indent)
}

// hangValue is label then value wrapped to width, each of its lines in
// style; the label is indent cells wide.
func hangValue(label, value string, style lipgloss.Style, width, indent int) string {
	lines := []string{value}
	if width-indent >= 10 {
		lines = strings.Split(ansi.Wrap(value, width-indent, wrapBreaks), "\n")
	}
	for i, l := range lines {
		lines[i] = style.Render(strings.TrimRight(l, " "))
	}
	return label + strings.Join(lines, "\n"+strings.Repeat(" ", indent))
}

// hangLines indents every line of s after the first.
func hangLines(s string, indent int) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n"+strings.Repeat(" ", indent))
}

// wrapDetail wraps each line of a details pane to width.
func wrapDetail(detail string, width int) string {
	if detail == "" {
		return ""
	}
	lines := strings.Split(detail, "\n")
	for i, l := range lines {
		lines[i] = hangWrap(l, width, detailIndent)
	}
	return strings.Join(lines, "\n")
}
