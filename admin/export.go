package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aigw/aigw/store"
)

// Trace export: GET /api/v1/traces/export streams every matching trace as
// NDJSON (one JSON trace per line, newest first), with the filters of
// GET /api/v1/traces but no limit and no cursor. The server writes a page
// of traces at a time as it reads them, so neither side holds more than a
// page. Because an error after the first line can no longer change the
// status, the stream ends with two HTTP trailers: X-Aigw-Export-Count (the
// traces sent) and, when it stopped early, X-Aigw-Export-Error. A client
// that sees no count trailer got a truncated export.
const (
	trailerExportCount = "X-Aigw-Export-Count"
	trailerExportError = "X-Aigw-Export-Error"
)

func (s *Server) exportTraces(w http.ResponseWriter, r *http.Request) error {
	f, err := traceFilter(r)
	if err != nil {
		return err
	}
	if f.Before != "" || r.URL.Query().Has("limit") {
		return badParam("limit", "an export has no limit and no cursor: narrow it with since and until")
	}
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-cache")
	h.Set("Trailer", trailerExportCount+", "+trailerExportError)
	w.WriteHeader(http.StatusOK)
	var (
		n   int64
		buf bytes.Buffer
	)
	enc := json.NewEncoder(&buf)
	err = s.store.ExportTraces(f, func(page []store.Trace) error {
		buf.Reset()
		for i := range page {
			if err := enc.Encode(&page[i]); err != nil { // Encode ends each with '\n'
				return err
			}
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return errClientGone
		}
		n += int64(len(page))
		if flusher != nil {
			flusher.Flush()
		}
		if r.Context().Err() != nil {
			return errClientGone
		}
		return nil
	})
	if errors.Is(err, errClientGone) {
		return nil
	}
	if err != nil {
		s.log.Error("trace export stopped", "err", err, "sent", n)
		h.Set(trailerExportError, oneLine(err.Error()))
	}
	h.Set(trailerExportCount, strconv.FormatInt(n, 10))
	return nil
}

var errClientGone = errors.New("the client went away")

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return string(bytes.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, []byte(s)))
}

// ExportTraces streams every trace matching q (its Limit, Cursor and
// Backlog must be unset) to fn, newest first, holding one trace at a time.
// It returns how many traces it read; an error when the server stopped the
// export early or the stream ended without its closing count (truncated).
func (c *Client) ExportTraces(ctx context.Context, q TraceQuery, fn func(Trace) error) (int64, error) {
	q.Limit, q.Cursor, q.Backlog = 0, "", 0
	resp, err := c.sendStream(ctx, "/api/v1/traces/export"+q.values())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20) // a trace's strings are bounded well below this
	var n int64
	for sc.Scan() {
		var t Trace
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return n, fmt.Errorf("trace export: line %d: %w", n+1, err)
		}
		n++
		if err := fn(t); err != nil {
			return n, err
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("trace export: %w after %d traces", err, n)
	}
	if msg := resp.Trailer.Get(trailerExportError); msg != "" {
		return n, fmt.Errorf("trace export stopped after %d traces: %s", n, msg)
	}
	if want := resp.Trailer.Get(trailerExportCount); want != strconv.FormatInt(n, 10) {
		return n, fmt.Errorf("trace export ended early after %d traces (the server said %q): the connection dropped", n, want)
	}
	return n, nil
}
