package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aigw/aigw/internal/termsafe"
	"github.com/aigw/aigw/internal/units"
)

// printJSON writes v as indented JSON: the stable, scriptable output
// (lists as arrays even when empty, defaults as null: see jsonValue).
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonValue(v))
}

// table is a list printed in aligned columns. When the terminal is narrower
// than the table, the widest columns are shortened with an ellipsis. Cells
// hold what clients, upstreams and operators chose (models, error texts,
// names): every cell is measured and printed through termsafe.
type table struct {
	header []string
	rows   [][]string
	min    []int // minimum column widths (live output, where rows come one by one)
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

const colGap = 2

func (t *table) print(w io.Writer, width int) error {
	widths := t.widths(width)
	var b strings.Builder
	b.WriteString(t.line(t.header, widths))
	for _, r := range t.rows {
		b.WriteString(t.line(r, widths))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rowText formats one row on its own (live output) with the column widths
// of its content and the header.
func (t *table) rowText(cells []string, width int) string {
	return t.line(cells, t.widths(width))
}

func (t *table) widths(width int) []int {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = utf8.RuneCountInString(h)
		if i < len(t.min) {
			widths[i] = max(widths[i], t.min[i])
		}
	}
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(termsafe.String(c)))
		}
	}
	if width > 0 {
		fit(widths, width-colGap*(len(widths)-1))
	}
	return widths
}

func (t *table) line(cells []string, widths []int) string {
	var b strings.Builder
	for i, c := range cells {
		c = clip(termsafe.String(c), widths[i])
		b.WriteString(c)
		if i < len(cells)-1 {
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+colGap))
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// fit shrinks the widest columns until their sum fits total (never below 4).
func fit(widths []int, total int) {
	for {
		sum, widest := 0, 0
		for i, w := range widths {
			sum += w
			if w > widths[widest] {
				widest = i
			}
		}
		if sum <= total || widths[widest] <= 4 {
			return
		}
		widths[widest]--
	}
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// printFields prints one object as "name: value" lines, the values made
// safe for the terminal.
func printFields(w io.Writer, pairs ...string) error {
	width := 0
	for i := 0; i < len(pairs); i += 2 {
		width = max(width, len(pairs[i]))
	}
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "%-*s  %s\n", width+1, pairs[i]+":", termsafe.String(pairs[i+1]))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// clockTime is a time of day for tables, with the date in front when it is
// not today ("2026-11-30 14:03:10"): a trace from last week must not read
// as this afternoon's.
func clockTime(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(*t)
}

func fmtInt(n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// timeFlag is a --expires-at style flag: RFC 3339, or a date (midnight UTC).
type timeFlag struct{ t *time.Time }

func (f *timeFlag) String() string {
	if f.t == nil {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	if t, err := units.ParseTime(s); err == nil {
		f.t = &t
		return nil
	}
	return fmt.Errorf("%q is not an RFC 3339 time (e.g. 2026-12-31T23:59:00Z) or a date (2026-12-31)", s)
}

func (f *timeFlag) Type() string { return "time" }

// usdFlag is an amount of US dollars: a finite number, not negative. (A
// plain Float64 flag takes NaN and Inf, which JSON cannot carry.)
type usdFlag float64

func (f *usdFlag) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }

func (f *usdFlag) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Errorf("%q is not an amount of USD (a number, 0 or more)", s)
	}
	*f = usdFlag(v)
	return nil
}

func (f *usdFlag) Type() string { return "usd" }
