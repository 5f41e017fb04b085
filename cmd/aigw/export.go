package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/spf13/cobra"
)

// Exports: `aigw usage export` and `aigw traces export` write CSV or JSONL
// as they read, for spreadsheets and other tools.

var exportFormats = []string{"csv", "jsonl"}

func newUsageExportCmd(a *app) *cobra.Command {
	var (
		q      admin.UsageQuery
		format string
	)
	cmd := &cobra.Command{
		Use:   "export [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--by key|model|provider|day|credential] [--format csv|jsonl]",
		Short: "Write usage sums as CSV or JSON lines, for a spreadsheet",
		Long: `Write the usage sums of 'aigw usage' to stdout as CSV (a header row, then one
row per group; RFC 4180 quoting) or JSON lines (one object per group), with
every field of 'aigw usage -o json'. A text cell that a spreadsheet would read
as a formula (starting with =, +, -, @, tab or carriage return) is prefixed
with a single quote.`,
		Example: `  aigw usage export --since 2026-11-01 --until 2026-11-30 --by key > november.csv
  aigw usage export --by model --format jsonl`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.By == admin.GroupByCredential && (q.Key != "" || q.Model != "") {
				return &usageError{errors.New("--key and --model cannot be combined with --by credential (the credential roll-ups are per day, credential and provider)")}
			}
			c, err := a.filterClient(cmd.Context(), &q.Key, q.Provider)
			if err != nil {
				return err
			}
			rows, err := c.Usage(cmd.Context(), q)
			if err != nil {
				return apiErr(cmd, err)
			}
			w := newExportWriter(a.io.Out, format, reflect.TypeFor[admin.UsageRow]())
			for i := range rows {
				if err := w.write(&rows[i]); err != nil {
					return err
				}
			}
			return w.close()
		},
	}
	fl := cmd.Flags()
	usageFilterFlags(fl, &q)
	fl.Var(newChoiceFlag(&format, "csv", exportFormats), "format", "csv or jsonl")
	_ = cmd.RegisterFlagCompletionFunc("by", cobra.FixedCompletions(admin.UsageGroupings, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(exportFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newTracesExportCmd(a *app) *cobra.Command {
	var (
		q              admin.TraceQuery
		format, status string
	)
	cmd := &cobra.Command{
		Use:   "export [--since T] [--until T] [--key ID] [--provider NAME] [--model M] [--status CODE] [--format csv|jsonl]",
		Short: "Write every stored trace that matches, with every field, as CSV or JSON lines",
		Long: `Write the stored traces that match to stdout, newest first, with every field
of 'aigw traces -o json': as CSV (a header row, then one row per trace; RFC
4180 quoting; attempts as a JSON array in one cell) or as JSON lines (one
trace per line). The export streams: it holds one page of traces whatever
their number, so millions can be exported. When stderr is a terminal it
shows progress there. A text cell that a spreadsheet would read as a formula
(starting with =, +, -, @, tab or carriage return) is prefixed with a single
quote. An export cut short (the gateway stopped, the connection dropped)
exits 1 with a message saying how many traces were written.`,
		Example: `  aigw traces export --since 2026-11-01 --until 2026-12-01 > november.csv
  aigw traces export --since 24h --provider anthropic --format jsonl | jq .cost_usd`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q.Status = status
			c, err := a.filterClient(cmd.Context(), &q.Key, q.Provider)
			if err != nil {
				return err
			}
			w := newExportWriter(a.io.Out, format, reflect.TypeFor[admin.Trace]())
			p := newProgress(a.io, "traces")
			_, err = c.ExportTraces(cmd.Context(), q, func(t admin.Trace) error {
				p.add(1)
				return w.write(&t)
			})
			p.done()
			if cerr := w.close(); err == nil {
				err = cerr
			}
			if err != nil {
				return apiErr(cmd, err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	traceFilterFlags(fl, &q, &status)
	fl.Var(newChoiceFlag(&format, "csv", exportFormats), "format", "csv or jsonl")
	_ = cmd.RegisterFlagCompletionFunc("provider", a.completeProviders)
	_ = cmd.RegisterFlagCompletionFunc("key", a.completeKeys)
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(exportFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// exportWriter writes records of one struct type as CSV (a header of their
// JSON names, then a row each) or JSON lines, through a buffer.
type exportWriter struct {
	buf  *bufio.Writer
	csv  *csv.Writer // nil: JSON lines
	enc  *json.Encoder
	cols []int // field indexes, in order
	row  []string
	head []string
}

func newExportWriter(out io.Writer, format string, typ reflect.Type) *exportWriter {
	w := &exportWriter{buf: bufio.NewWriterSize(out, 64<<10)}
	if format == "jsonl" {
		w.enc = json.NewEncoder(w.buf)
		return w
	}
	w.csv = csv.NewWriter(w.buf)
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		w.cols = append(w.cols, i)
		w.head = append(w.head, name)
	}
	w.row = make([]string, len(w.cols))
	return w
}

// write writes one record; rec is a pointer to the writer's struct type.
func (w *exportWriter) write(rec any) error {
	if w.enc != nil {
		return w.enc.Encode(rec)
	}
	if w.head != nil {
		if err := w.csv.Write(w.head); err != nil {
			return err
		}
		w.head = nil
	}
	v := reflect.ValueOf(rec).Elem()
	for i, col := range w.cols {
		w.row[i] = csvCell(v.Field(col))
	}
	return w.csv.Write(w.row)
}

// close writes the header of an empty CSV export and flushes.
func (w *exportWriter) close() error {
	if w.csv != nil {
		if w.head != nil {
			if err := w.csv.Write(w.head); err != nil {
				return err
			}
		}
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			return err
		}
	}
	return w.buf.Flush()
}

var timeType = reflect.TypeFor[time.Time]()

// csvCell is a field's text: numbers as Go writes them (shortest exact
// form), times in RFC 3339 (UTC, nanoseconds), nil pointers empty, anything
// else (slices, structs) as compact JSON. Text is made safe for spreadsheets
// (safeCell).
func csvCell(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return safeCell(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return csvCell(v.Elem())
	}
	if v.Type() == timeType {
		return v.Interface().(time.Time).UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return ""
	}
	return safeCell(string(b))
}

// safeCell keeps a spreadsheet from reading text as a formula (CSV
// injection: a model name or an upstream's error message is chosen by
// others): a cell starting with =, +, -, @, tab or carriage return gets a
// leading single quote, which spreadsheets show as text and do not display.
func safeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// progress shows "N traces exported" on stderr, at most every 200 ms, when
// stderr is a terminal; nothing otherwise.
type progress struct {
	w    io.Writer // nil: silent
	what string
	n    int64
	last time.Time
}

func newProgress(s *ioStreams, what string) *progress {
	p := &progress{what: what}
	if s.errTTY {
		p.w = s.Err
	}
	return p
}

func (p *progress) add(k int64) {
	p.n += k
	if p.w == nil {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		fmt.Fprintf(p.w, "\r%d %s exported", p.n, p.what)
	}
}

func (p *progress) done() {
	if p.w != nil {
		fmt.Fprintf(p.w, "\r%d %s exported\n", p.n, p.what)
	}
}
