package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/internal/units"
	"github.com/aigw/aigw/store"
)

// LiveTraces is the trace pipeline's live view (tracing.Pipeline).
type LiveTraces interface {
	Subscribe(buffer int) (<-chan *store.Trace, func())
	Recent(n int) []*store.Trace
}

// tracePageOut is how the server sends a TracePage.
type tracePageOut struct {
	Traces     []store.Trace `json:"traces"`
	NextCursor string        `json:"next_cursor"`
}

// traceFilter reads the shared query parameters of the trace endpoints:
// key, provider, model, status (429, or a class: 2xx, 4xx, 5xx), since,
// until (RFC 3339 or YYYY-MM-DD), limit and cursor.
func traceFilter(r *http.Request) (store.TraceFilter, error) {
	q := r.URL.Query()
	f := store.TraceFilter{KeyID: q.Get("key"), Provider: q.Get("provider"), Model: q.Get("model"), Before: q.Get("cursor")}
	if s := q.Get("status"); s != "" {
		if len(s) == 3 && (s[1:] == "xx" || s[1:] == "XX") && s[0] >= '1' && s[0] <= '5' {
			f.StatusClass = int(s[0] - '0')
		} else if n, err := strconv.Atoi(s); err == nil && n >= 100 && n < 600 {
			f.Status = n
		} else {
			return f, badParam("status", "%q is not an HTTP status (e.g. 429) or a class (2xx, 4xx, 5xx)", s)
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(p.name); s != "" {
			t, err := units.ParseTime(s)
			if err != nil {
				return f, badParam(p.name, "%q is not an RFC 3339 time or a date (YYYY-MM-DD)", s)
			}
			*p.dst = t
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return f, badParam("limit", "%q must be between 1 and 10000", s)
		}
		f.Limit = n
	}
	return f, nil
}

func badParam(field, format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, field: field, msg: "invalid " + field + ": " + fmt.Sprintf(format, args...)}
}

func (s *Server) listTraces(w http.ResponseWriter, r *http.Request) error {
	f, err := traceFilter(r)
	if err != nil {
		return err
	}
	traces, next, err := s.store.Traces(f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tracePageOut{Traces: traces, NextCursor: next})
	return nil
}

func (s *Server) getTrace(w http.ResponseWriter, r *http.Request) error {
	t, err := s.store.Trace(r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// matches applies a filter's exact fields to a live trace.
func matches(f store.TraceFilter, t *store.Trace) bool {
	switch {
	case f.KeyID != "" && t.KeyID != f.KeyID, f.Provider != "" && t.Provider != f.Provider,
		f.Model != "" && t.Model != f.Model, f.Status > 0 && t.Status != f.Status,
		f.StatusClass > 0 && t.Status/100 != f.StatusClass:
		return false
	}
	return true
}

// streamTraces sends new traces as Server-Sent Events ("event: trace",
// one JSON trace per data line) until the client leaves. backlog=N first
// replays up to N recent traces. A comment line every 15 s keeps idle
// connections open through proxies.
func (s *Server) streamTraces(w http.ResponseWriter, r *http.Request) error {
	if s.live == nil {
		return &httpError{status: http.StatusServiceUnavailable, msg: "the live trace stream is not available"}
	}
	f, err := traceFilter(r)
	if err != nil {
		return err
	}
	backlog := 0
	if v := r.URL.Query().Get("backlog"); v != "" {
		if backlog, err = strconv.Atoi(v); err != nil || backlog < 0 || backlog > 10000 {
			return badParam("backlog", "%q must be between 0 and 10000", v)
		}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming unsupported by the response writer")
	}
	ch, stop := s.live.Subscribe(1024)
	defer stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(": aigw live traces\n\n"))
	send := func(t *store.Trace) error {
		if !matches(f, t) {
			return nil
		}
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: trace\ndata: %s\n\n", b); err != nil {
			return err
		}
		return nil
	}
	if backlog > 0 {
		for _, t := range s.live.Recent(backlog) {
			if err := send(t); err != nil {
				return nil
			}
		}
	}
	flusher.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return nil // aigw is shutting down
		case t := <-ch:
			if err := send(t); err != nil {
				return nil // the client went away
			}
			// Send what else is already there before flushing.
			for more := true; more; {
				select {
				case t := <-ch:
					if err := send(t); err != nil {
						return nil
					}
				default:
					more = false
				}
			}
			flusher.Flush()
		case <-ping.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil {
				return nil
			}
			flusher.Flush()
		}
	}
}

func (s *Server) usage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	rows, err := s.store.Usage(store.UsageQuery{
		GroupBy: q.Get("by"), Since: q.Get("since"), Until: q.Get("until"),
		KeyID: q.Get("key"), Provider: q.Get("provider"), Model: q.Get("model"),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rows)
	return nil
}

// --- client -------------------------------------------------------------------

// TraceQuery selects traces through the admin API.
type TraceQuery struct {
	Key, Provider, Model string
	Status               string // "429", "5xx", …
	Since, Until         string // RFC 3339 or YYYY-MM-DD
	Limit                int
	Cursor               string
	Backlog              int // StreamTraces: recent traces replayed first
	// Opened, when set, is called by StreamTraces once the server has
	// accepted the stream, before any trace (a live view can say "live"
	// only from then on).
	Opened func()
}

func (q TraceQuery) values() string {
	v := make([]string, 0, 8)
	add := func(k, val string) {
		if val != "" {
			v = append(v, k+"="+urlEscape(val))
		}
	}
	add("key", q.Key)
	add("provider", q.Provider)
	add("model", q.Model)
	add("status", q.Status)
	add("since", q.Since)
	add("until", q.Until)
	add("cursor", q.Cursor)
	if q.Limit > 0 {
		add("limit", strconv.Itoa(q.Limit))
	}
	if q.Backlog > 0 {
		add("backlog", strconv.Itoa(q.Backlog))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + strings.Join(v, "&")
}

// Traces returns one page of traces, newest first.
func (c *Client) Traces(ctx context.Context, q TraceQuery) (TracePage, error) {
	var out TracePage
	return out, c.do(ctx, http.MethodGet, "/api/v1/traces"+q.values(), nil, &out)
}

// Trace returns one trace by request id.
func (c *Client) Trace(ctx context.Context, id string) (Trace, error) {
	var out Trace
	return out, c.do(ctx, http.MethodGet, "/api/v1/traces/"+esc(id), nil, &out)
}

// StreamTraces calls fn with every new trace until ctx ends, fn returns an
// error, or the server goes away (then the error says so).
func (c *Client) StreamTraces(ctx context.Context, q TraceQuery, fn func(Trace) error) error {
	return streamEvents(ctx, c, "/api/v1/traces/stream"+q.values(), "trace", q.Opened, fn)
}

// streamEvents reads a live stream of the admin API: fn is called with
// every event of that name, decoded, until ctx ends, fn returns an error
// or the server goes away. opened (if set) is called once the server
// accepted the stream.
func streamEvents[T any](ctx context.Context, c *Client, path, event string, opened func(), fn func(T) error) error {
	resp, err := c.sendStream(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if opened != nil {
		opened()
	}
	return readEvents(resp.Body, func(name string, data []byte) error {
		if name != event {
			return nil
		}
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("live %s stream: %w", event, err)
		}
		return fn(v)
	})
}

// UsageQuery selects usage roll-ups through the admin API.
type UsageQuery struct {
	By, Since, Until     string
	Key, Provider, Model string
}

// Usage returns the roll-ups summed per group.
func (c *Client) Usage(ctx context.Context, q UsageQuery) ([]UsageRow, error) {
	v := make([]string, 0, 6)
	for _, kv := range [][2]string{{"by", q.By}, {"since", q.Since}, {"until", q.Until}, {"key", q.Key}, {"provider", q.Provider}, {"model", q.Model}} {
		if kv[1] != "" {
			v = append(v, kv[0]+"="+urlEscape(kv[1]))
		}
	}
	path := "/api/v1/usage"
	if len(v) > 0 {
		path += "?" + strings.Join(v, "&")
	}
	var out []UsageRow
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

func storeUsageDay(day string) store.UsageQuery {
	return store.UsageQuery{GroupBy: "day", Since: day, Until: day}
}
