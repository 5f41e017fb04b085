package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aigw/aigw/admin"
	"github.com/spf13/cobra"
)

// Keys and credentials are listed a page at a time (issue 17): by default
// one page of admin.DefaultPageLimit, with a line on stderr when more
// exist; --limit N shows N (fetched in pages of at most
// admin.MaxPageLimit); --all streams every page, so that memory stays
// flat however many there are. -o json is one JSON array all the same.

// pageFlags are the list commands' --limit and --all.
type pageFlags struct {
	limit int
	all   bool
}

func (p *pageFlags) register(cmd *cobra.Command, plural string) {
	cmd.Flags().IntVar(&p.limit, "limit", 0, fmt.Sprintf("show at most N %s (default %d)", plural, admin.DefaultPageLimit))
	cmd.Flags().BoolVar(&p.all, "all", false, "list every one, page after page")
}

func (p *pageFlags) check(cmd *cobra.Command) error {
	if p.all && cmd.Flags().Changed("limit") {
		return &usageError{errors.New("--all lists every one: it cannot be combined with --limit")}
	}
	if cmd.Flags().Changed("limit") && p.limit < 1 {
		return &usageError{fmt.Errorf("--limit %d: must be at least 1", p.limit)}
	}
	if p.limit == 0 {
		p.limit = admin.DefaultPageLimit
	}
	return nil
}

// listing prints the items of a paged list as they come, in the output
// format the command was given.
type listing[T any] struct {
	a      *app
	plural string
	header []string
	row    func(T) []string
	id     func(T) string
	// fetch returns the page after cursor, of at most limit items, and the
	// next cursor ("" after the last page).
	fetch func(cursor string, limit int) ([]T, string, error)
}

// listPageSize is the largest page a listing asks for (tests lower it).
var listPageSize = admin.MaxPageLimit

// maxListPages bounds a listing (10 million items at the largest page).
const maxListPages = 10_000

func (l *listing[T]) run(p pageFlags) error {
	var out pageWriter[T]
	switch l.a.output {
	case "json":
		out = &jsonArray[T]{w: l.a.io.Out}
	case "id":
		out = &idLines[T]{w: l.a.io.Out, id: l.id}
	default:
		out = &pagedTable[T]{w: l.a.io.Out, width: l.a.io.outWidth, t: newTable(l.header...), row: l.row, stream: p.all}
	}
	shown, cursor := 0, ""
	for range maxListPages {
		limit := listPageSize
		if !p.all {
			limit = min(limit, p.limit-shown)
		}
		items, next, err := l.fetch(cursor, limit)
		if err != nil {
			return err
		}
		if err := out.page(items); err != nil {
			return err
		}
		shown += len(items)
		if next == "" || next == cursor {
			return out.end()
		}
		if !p.all && shown >= p.limit {
			if err := out.end(); err != nil {
				return err
			}
			_, err := fmt.Fprintf(l.a.io.Err, "aigw: %d %s shown; more exist: --all lists every one, --limit N shows N\n", shown, l.plural)
			return err
		}
		cursor = next
	}
	return fmt.Errorf("more than %d pages of %s", maxListPages, l.plural)
}

type pageWriter[T any] interface {
	page([]T) error
	end() error
}

// jsonArray writes one JSON array element by element, byte for byte as
// printJSON writes the whole array.
type jsonArray[T any] struct {
	w io.Writer
	n int
}

func (j *jsonArray[T]) page(items []T) error {
	for i := range items {
		raw, err := json.MarshalIndent(jsonValue(items[i]), "  ", "  ")
		if err != nil {
			return err
		}
		sep := ",\n  "
		if j.n == 0 {
			sep = "[\n  "
		}
		j.n++
		if _, err := io.WriteString(j.w, sep); err != nil {
			return err
		}
		if _, err := j.w.Write(raw); err != nil {
			return err
		}
	}
	return nil
}

func (j *jsonArray[T]) end() error {
	if j.n == 0 {
		_, err := io.WriteString(j.w, "[]\n")
		return err
	}
	_, err := io.WriteString(j.w, "\n]\n")
	return err
}

// idLines is -o id: one id a line.
type idLines[T any] struct {
	w  io.Writer
	id func(T) string
}

func (l *idLines[T]) page(items []T) error {
	for _, it := range items {
		if err := printIDs(l.w, l.id(it)); err != nil {
			return err
		}
	}
	return nil
}

func (l *idLines[T]) end() error { return nil }

// pagedTable is the table: printed whole at the end, or (stream) page by
// page, the header with the first page and the columns as wide as the
// widest cell so far.
type pagedTable[T any] struct {
	w      io.Writer
	width  int
	t      *table
	row    func(T) []string
	stream bool
	header bool // printed
}

func (p *pagedTable[T]) page(items []T) error {
	for _, it := range items {
		p.t.add(p.row(it)...)
	}
	if p.stream {
		return p.flush()
	}
	return nil
}

func (p *pagedTable[T]) flush() error {
	widths := p.t.widths(p.width)
	p.t.min = widths
	var out []byte
	if !p.header {
		out = append(out, p.t.line(p.t.header, widths)...)
		p.header = true
	}
	for _, r := range p.t.rows {
		out = append(out, p.t.line(r, widths)...)
	}
	p.t.rows = p.t.rows[:0]
	_, err := p.w.Write(out)
	return err
}

func (p *pagedTable[T]) end() error {
	if p.header && len(p.t.rows) == 0 {
		return nil
	}
	return p.flush()
}
