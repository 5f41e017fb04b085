package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aigw/aigw/store"
)

// AlertFeed is the live side of the alerts (alerts.Manager).
type AlertFeed interface {
	// Subscribe returns new alerts (buffered n; a slow reader misses
	// some) and a function that ends the subscription.
	Subscribe(n int) (<-chan store.Alert, func())
}

// alertsQuery reads ?since= (RFC 3339, YYYY-MM-DD, or a duration back
// from now such as 24h) and ?limit= (default and most: store.MaxAlerts).
func alertsQuery(r *http.Request) (since time.Time, limit int, err error) {
	q := r.URL.Query()
	if v := q.Get("since"); v != "" {
		if since, err = parseSince(v, time.Now()); err != nil {
			return since, 0, badParam("since", "%q is not RFC 3339, YYYY-MM-DD or a duration like 24h", v)
		}
	}
	limit = store.MaxAlerts
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > store.MaxAlerts {
			return since, 0, badParam("limit", "%q must be between 1 and %d", v, store.MaxAlerts)
		}
	}
	return since, limit, nil
}

func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("bad since")
	}
	return now.Add(-d), nil
}

// listAlerts answers GET /api/v1/alerts: the stored alerts, oldest first.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	since, limit, err := alertsQuery(r)
	if err != nil {
		return err
	}
	list, err := s.store.Alerts(since, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// streamAlerts sends new alerts as Server-Sent Events ("event: alert")
// until the client leaves, like the trace stream; ?since= first replays
// the stored alerts from then.
func (s *Server) streamAlerts(w http.ResponseWriter, r *http.Request) error {
	if s.alerts == nil {
		return &httpError{status: http.StatusServiceUnavailable, msg: "the live alert stream is not available"}
	}
	since, limit, err := alertsQuery(r)
	if err != nil {
		return err
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming unsupported by the response writer")
	}
	ch, stop := s.alerts.Subscribe(64)
	defer stop()
	var backlog []store.Alert
	if !since.IsZero() {
		if backlog, err = s.store.Alerts(since, limit); err != nil {
			return err
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(": aigw live alerts\n\n"))
	sent := map[string]bool{} // an alert raised while the backlog was read comes once
	send := func(a store.Alert) error {
		if sent[a.ID] {
			return nil
		}
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "event: alert\ndata: %s\n\n", b)
		return err
	}
	for _, a := range backlog {
		if send(a) != nil {
			return nil
		}
		sent[a.ID] = true
	}
	flusher.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return nil
		case a := <-ch:
			if send(a) != nil {
				return nil
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

// --- client -------------------------------------------------------------------

// AlertQuery selects alerts: Since is RFC 3339, YYYY-MM-DD or a duration
// back from now ("24h"); empty: all kept.
type AlertQuery struct {
	Since string
	Limit int
	// Opened, when set, is called by StreamAlerts once the server has
	// accepted the stream.
	Opened func()
}

func (q AlertQuery) values() string {
	v := ""
	if q.Since != "" {
		v += "&since=" + urlEscape(q.Since)
	}
	if q.Limit > 0 {
		v += "&limit=" + strconv.Itoa(q.Limit)
	}
	if v == "" {
		return ""
	}
	return "?" + v[1:]
}

// Alerts returns the stored alerts, oldest first.
func (c *Client) Alerts(ctx context.Context, q AlertQuery) ([]Alert, error) {
	var out []Alert
	return out, c.do(ctx, http.MethodGet, "/api/v1/alerts"+q.values(), nil, &out)
}

// StreamAlerts calls fn with every new alert (after those since q.Since)
// until ctx ends, fn returns an error, or the server goes away.
func (c *Client) StreamAlerts(ctx context.Context, q AlertQuery, fn func(Alert) error) error {
	return streamEvents(ctx, c, "/api/v1/alerts/stream"+q.values(), "alert", q.Opened, fn)
}
