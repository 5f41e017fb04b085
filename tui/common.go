package tui

import (
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/termsafe"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// common is what the root model, the pages and the components share. The
// root model owns it and is the only one that changes it (in Update); the
// others read it.
type common struct {
	ctx    context.Context // ends when the TUI quits; every request derives from it
	client *admin.Client
	styles *Styles
	keys   *KeyMap
	now    func() time.Time // the clock (tests pin it)
	loc    *time.Location   // where times are shown
	out    io.Writer        // the terminal, for escape sequences beside the screen (OSC 52); nil: none

	width, height int // the terminal
	bodyHeight    int // lines left for the active page between header and footer

	// The gateway's connection as the header shows it.
	offline bool        // the status poll fails
	stream  streamState // the live trace stream
}

// requestTimeout bounds one admin API call made by a command.
const requestTimeout = 10 * time.Second

// call returns a context for one admin API call.
func (c *common) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, requestTimeout)
}

// today is the current UTC day, as the usage roll-ups name it.
func (c *common) today() string { return admin.UsageDay(c.now()) }

// clock formats a time of day where the operator is.
func (c *common) clock(t time.Time) string { return t.In(c.loc).Format("15:04:05") }

// errText is an error as one line for the screen. An unreachable gateway
// is the banner's business: its long message is not repeated.
func errText(err error) string {
	if errors.Is(err, admin.ErrUnreachable) {
		return "the gateway is unreachable (see the banner above)"
	}
	return oneLine(err.Error())
}

// oneLine is s on one line, safe for the terminal (see safe).
func oneLine(s string) string {
	return safe(strings.Join(strings.Fields(s), " "))
}

// safe shows what a terminal would act on (ESC, BEL, C1 and bidi controls,
// invalid UTF-8) escaped. Every string that did not come from aigw itself
// (models, paths, error texts, names) goes through it before it is styled:
// the table, the detail panes, banners, dialogs and forms do it for what
// they are given.
func safe(s string) string { return termsafe.String(s) }

// fitLines makes s exactly h lines of at most w cells: longer lines are cut,
// missing lines added. Every page's view goes through it so that the screen
// never scrolls.
func fitLines(s string, w, h int) string {
	if h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = ansi.Truncate(l, w, "…")
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// cell pads or cuts s to exactly w cells, aligned left or right.
func cell(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	if lipgloss.Width(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	pad := w - lipgloss.Width(s)
	if right {
		return strings.Repeat(" ", pad) + s
	}
	return s + strings.Repeat(" ", pad)
}

// fmtMS is a latency: "845ms", "1.23s".
func fmtMS(ms float64) string {
	switch {
	case ms >= 10000:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + "s"
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	case ms >= 1:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
}

// fmtCount is a count, shortened: 950, 12.4k, 3.1M.
func fmtCount(n float64) string {
	a := math.Abs(n)
	switch {
	case a >= 1e9:
		return strconv.FormatFloat(n/1e9, 'f', 1, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(n/1e6, 'f', 1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(n/1e3, 'f', 1, 64) + "k"
	case a == math.Trunc(a):
		return strconv.FormatFloat(n, 'f', 0, 64)
	}
	return strconv.FormatFloat(n, 'f', 1, 64)
}

// fmtInt is a whole number with thousands separators: 1,234,567.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtUSD is a cost in dollars in at most 8 cells, precise enough for single
// requests: two significant digits below a cent ($0.00023, $0.00002), cents
// from $10.
func fmtUSD(usd float64) string {
	switch {
	case usd == 0:
		return "$0"
	case usd < 0.000005:
		return "<$0.00001"
	case usd < 0.01:
		decimals := min(int(-math.Floor(math.Log10(usd)))+1, 5)
		return "$" + strconv.FormatFloat(usd, 'f', decimals, 64)
	case usd < 10:
		return "$" + strconv.FormatFloat(usd, 'f', 4, 64)
	}
	return "$" + strconv.FormatFloat(usd, 'f', 2, 64)
}

// fmtUSDExact is a cost to a millionth of a cent ($0.0000189).
func fmtUSDExact(usd float64) string {
	s := strings.TrimRight(strconv.FormatFloat(usd, 'f', 8, 64), "0")
	return "$" + strings.TrimSuffix(s, ".")
}

// fmtCost is a trace's cost: an unknown cost is "?", never $0.
func fmtCost(usd float64, known bool) string {
	if !known {
		return "?"
	}
	return fmtUSD(usd)
}

// fmtLimit is a limit where 0 means none.
func fmtLimit(n int64) string {
	if n == 0 {
		return "none"
	}
	return fmtCount(float64(n))
}

func fmtPercent(f float64) string {
	return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
}

// orDash shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// plural is "1 key", "2 keys".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmtInt(int64(n)) + " " + many
}
