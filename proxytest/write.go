package proxytest

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// This file holds everything that writes to the client: plain JSON answers,
// streams chunk by chunk, garbage and connection resets. Every write path
// honours the plan of the matched rule.

// streamKind is how an endpoint streams a given request.
type streamKind int

const (
	notStreamed     streamKind = iota
	sseStream                  // text/event-stream
	jsonArrayStream            // Gemini's streamed JSON array
)

// writeJSONStatus answers at once with a JSON body; errors use it.
func (x *exchange) writeJSONStatus(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("proxytest: cannot marshal a response: " + err.Error()) // our own types: a bug
	}
	x.writeBytes(status, "application/json", b)
}

// writeRaw answers at once with body, typed as JSON when it is valid JSON.
func (x *exchange) writeRaw(status int, body string) {
	ct := "text/plain; charset=utf-8"
	if json.Valid([]byte(body)) {
		ct = "application/json"
	}
	x.writeBytes(status, ct, []byte(body))
}

func (x *exchange) writeBytes(status int, contentType string, b []byte) {
	h := x.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	x.status = status
	x.w.WriteHeader(status)
	if _, err := x.w.Write(b); err != nil {
		x.gone = true
		return
	}
	x.complete = true
}

// reply answers 200 with a JSON body as one chunk: it may be held before or
// after the body, or cut in the middle of it, as the plan says.
func (x *exchange) reply(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("proxytest: cannot marshal a response: " + err.Error())
	}
	p := x.plan
	if p.Hold == nil && p.ResetAfterChunks == 0 {
		x.writeBytes(http.StatusOK, "application/json", b)
		return
	}
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	s, ok := x.openStream()
	if !ok {
		return
	}
	if p.ResetAfterChunks > 0 {
		if s.before() && s.write(b[:len(b)/2]) {
			x.resetConn()
		}
		return
	}
	if s.send(b) {
		s.end(nil)
	}
}

// stream writes an answer chunk by chunk, flushing each.
type stream struct {
	x    *exchange
	sent int    // chunks sent
	buf  []byte // reused to frame events
}

// openStream sends the status line and headers (the caller has set the
// Content-Type) and flushes them, so the client has its response at once.
func (x *exchange) openStream() (*stream, bool) {
	h := x.w.Header()
	if h.Get("Content-Type") == "text/event-stream" {
		h.Set("Cache-Control", "no-cache")
	}
	x.status = http.StatusOK
	x.w.WriteHeader(http.StatusOK)
	if err := x.rc.Flush(); err != nil {
		x.gone = true
		return nil, false
	}
	return &stream{x: x}, true
}

// send writes one chunk and flushes it. It returns false when the answer must
// stop: the client went away, the fake was closed, or the plan reset the
// connection.
func (s *stream) send(b []byte) bool {
	if !s.before() || !s.write(b) {
		return false
	}
	s.sent++
	return true
}

// before applies the plan ahead of the next chunk.
func (s *stream) before() bool {
	x, p := s.x, s.x.plan
	if p.ResetAfterChunks > 0 && s.sent >= p.ResetAfterChunks {
		x.resetConn()
		return false
	}
	if p.Hold != nil && s.sent == p.HoldAfterChunks && !x.wait(p.Hold) {
		return false
	}
	if s.sent > 0 && p.ChunkDelay > 0 && !x.sleep(p.ChunkDelay) {
		return false
	}
	select {
	case <-x.u.done:
		return false
	case <-x.r.Context().Done():
		x.gone = true
		return false
	default:
		return true
	}
}

func (s *stream) write(b []byte) bool {
	if _, err := s.x.w.Write(b); err != nil {
		s.x.gone = true
		return false
	}
	if err := s.x.rc.Flush(); err != nil {
		s.x.gone = true
		return false
	}
	return true
}

// end completes the answer: a hold or reset the plan placed at or beyond the
// last chunk happens now, then the trailer (if any) is written.
func (s *stream) end(trailer []byte) {
	x, p := s.x, s.x.plan
	if p.Hold != nil && p.HoldAfterChunks >= s.sent && !x.wait(p.Hold) {
		return
	}
	if p.ResetAfterChunks > 0 {
		x.resetConn()
		return
	}
	if len(trailer) > 0 && !s.write(trailer) {
		return
	}
	x.complete = true
}

// data sends one data-only Server-Sent Event ("data: JSON\n\n").
func (s *stream) data(v any) bool {
	return s.frame("", v, "\n\n")
}

// event sends one named Server-Sent Event ("event: NAME\ndata: JSON\n\n").
func (s *stream) event(name string, v any) bool {
	return s.frame(name, v, "\n\n")
}

func (s *stream) frame(name string, v any, end string) bool {
	b := s.buf[:0]
	if name != "" {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = append(b, '\n')
	}
	b = append(b, "data: "...)
	b = appendJSON(b, v)
	b = append(b, end...)
	s.buf = b
	return s.send(b)
}

func appendJSON(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		panic("proxytest: cannot marshal a response: " + err.Error())
	}
	return append(b, j...)
}

// resetConn closes the client's connection with a TCP reset (SO_LINGER 0),
// whatever was sent so far.
func (x *exchange) resetConn() {
	x.reset = true
	conn, _, err := x.rc.Hijack()
	if err != nil {
		// Not a hijackable connection (HTTP/2, a recorder): let net/http
		// abort it, which is the closest it offers.
		panic(http.ErrAbortHandler)
	}
	// Any connection that can linger (a *net.TCPConn, or a test's wrapper
	// of one) is reset; others are only closed.
	if tc, ok := conn.(interface{ SetLinger(sec int) error }); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// abort closes the client's connection without completing the response.
func (x *exchange) abort() {
	conn, _, err := x.rc.Hijack()
	if err != nil {
		return // not hijackable: net/http ends the response as best it can
	}
	_ = conn.Close()
}

// garbage answers 200 with a body the client cannot parse, in the form the
// request expects: JSON, Server-Sent Events or a JSON array.
func (x *exchange) garbage() {
	kind := x.ep.streaming(x)
	if kind == notStreamed {
		x.writeBytes(http.StatusOK, "application/json", []byte(`proxytest: this is not JSON {"truncated": `))
		return
	}
	chunks := [][]byte{
		[]byte("data: {this is not json}\n\n"),
		[]byte("this line is not an SSE field\nevent\n\n"),
		[]byte(`data: {"truncated": `),
	}
	ct := "text/event-stream"
	if kind == jsonArrayStream {
		ct = "application/json"
		chunks = [][]byte{[]byte(`[{"candidates": [{"content": `), []byte("not json at all\n,\r\n")}
	}
	x.w.Header().Set("Content-Type", ct)
	s, ok := x.openStream()
	if !ok {
		return
	}
	for _, c := range chunks {
		if !s.send(c) {
			return
		}
	}
	s.end(nil)
}
