package tui

import (
	"math"
	"strings"
)

var sparkLevels = []rune("▁▂▃▄▅▆▇█")

// sparkline draws values as one line of block characters, the last value
// rightmost, scaled to the largest. A zero is a blank, so that "nothing"
// and "a little" look different. Only the last width values are drawn.
func sparkline(values []float64, width int) string {
	if width <= 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	top := 0.0
	for _, v := range values {
		top = math.Max(top, v)
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", width-len(values)))
	for _, v := range values {
		if v <= 0 || top <= 0 {
			b.WriteByte(' ')
			continue
		}
		i := int(math.Ceil(v/top*float64(len(sparkLevels)))) - 1
		b.WriteRune(sparkLevels[min(max(i, 0), len(sparkLevels)-1)])
	}
	return b.String()
}

var barEighths = []rune("▏▎▍▌▋▊▉")

// hbar is a horizontal bar of value/top of width cells, in eighths of a
// cell; any value above zero shows at least a sliver.
func hbar(value, top float64, width int) string {
	if width <= 0 || top <= 0 || value <= 0 {
		return ""
	}
	eighths := int(math.Round(math.Min(value/top, 1) * float64(width*8)))
	eighths = max(eighths, 1)
	full, part := eighths/8, eighths%8
	s := strings.Repeat("█", full)
	if part > 0 {
		s += string(barEighths[part-1])
	}
	return s
}
