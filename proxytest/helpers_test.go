package proxytest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

// testTimeout bounds every exchange of a test with the fake.
const testTimeout = 10 * time.Second

// start runs a fake for the test and closes it at the end.
func start(t *testing.T) *proxytest.Server {
	t.Helper()
	s := proxytest.NewServer()
	t.Cleanup(s.Close)
	return s
}

// testCtx is the test's context, bounded by testTimeout.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newClient is a client of its own (no connection shared with other tests),
// bounded in time.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 2 * testTimeout}
}

// call sends a request; headers are name, value pairs.
func call(t *testing.T, ctx context.Context, c *http.Client, method, url, body string, headers ...string) (*http.Response, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.Do(req)
}

// mustCall is call that fails the test on a transport error.
func mustCall(t *testing.T, method, url, body string, headers ...string) *http.Response {
	t.Helper()
	resp, err := call(t, testCtx(t), newClient(t), method, url, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// post sends a JSON body with a bearer credential.
func post(t *testing.T, url, body string, headers ...string) *http.Response {
	t.Helper()
	if len(headers) == 0 {
		headers = []string{"Authorization", "Bearer sk-test"}
	}
	return mustCall(t, http.MethodPost, url, body, headers...)
}

// anthropicHeaders are what Anthropic's SDK sends.
var anthropicHeaders = []string{"x-api-key", "sk-ant-test", "anthropic-version", "2023-06-01"}

func readBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return b
}

// decode reads a JSON body into v after checking status and content type.
func decode(t *testing.T, resp *http.Response, wantStatus int, v any) {
	t.Helper()
	b := readBody(t, resp)
	if resp.StatusCode != wantStatus {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, wantStatus, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("body is not the expected JSON: %v\n%s", err, b)
	}
}

// sseEvent is one Server-Sent Event as a client parses it.
type sseEvent struct {
	Event string
	Data  string
}

// sseReader reads events one at a time, so that a test can observe each as
// it arrives.
type sseReader struct{ br *bufio.Reader }

func newSSEReader(r io.Reader) *sseReader { return &sseReader{bufio.NewReader(r)} }

// next returns the next event. At the end of the body it returns io.EOF if
// the body ended cleanly between events, and another error otherwise.
func (r *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data []string
	started := false
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && (started || line != "") {
				return ev, io.ErrUnexpectedEOF // an event cut short
			}
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if !started {
				continue
			}
			ev.Data = strings.Join(data, "\n")
			return ev, nil
		}
		started = true
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.Event = value
		case "data":
			data = append(data, value)
		}
	}
}

// readSSE reads a whole event stream that must end cleanly.
func readSSE(t *testing.T, resp *http.Response) []sseEvent {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, readBody(t, resp))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type = %q, want text/event-stream", ct)
	}
	r := newSSEReader(resp.Body)
	var out []sseEvent
	for {
		ev, err := r.next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		out = append(out, ev)
	}
}

// eventNames lists the event: fields of events.
func eventNames(evs []sseEvent) []string {
	names := make([]string, len(evs))
	for i, ev := range evs {
		names[i] = ev.Event
	}
	return names
}

func unmarshal(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("event data is not the expected JSON: %v\n%s", err, data)
	}
}

// repeat returns n copies of s.
func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hasJSONKey reports whether the JSON object in data has key at top level.
func hasJSONKey(t *testing.T, data, key string) bool {
	t.Helper()
	var m map[string]json.RawMessage
	unmarshal(t, data, &m)
	_, ok := m[key]
	return ok
}

// isJSONNull reports whether raw is the JSON literal null.
func isJSONNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// readAllEvents reads events until the body ends, returning the error that
// ended it (nil for a clean end).
func readAllEvents(resp *http.Response) ([]sseEvent, error) {
	return newSSEReader(resp.Body).rest()
}

// rest reads events until the body ends, returning the error that ended it
// (nil for a clean end).
func (r *sseReader) rest() ([]sseEvent, error) {
	var out []sseEvent
	for {
		ev, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, ev)
	}
}
