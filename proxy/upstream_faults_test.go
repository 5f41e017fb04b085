package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

// Upstream faults, one subtest each. For every fault the client gets either
// aigw's own error in the provider's shape with the right status (nothing
// was sent yet), or a stream that ends — with an error when it was cut, so
// that the client cannot take a part for the whole — and never hangs; the
// trace records the failure; and nothing leaks: no goroutine stays in the
// request path, the upstream connections left open are only those the pool
// may keep (none after a failed exchange), and once everything is shut
// down the goroutine count is back to where it was.
func TestUpstreamFaults(t *testing.T) {
	const (
		idle      = 150 * time.Millisecond // StreamIdle
		firstByte = 300 * time.Millisecond // FirstByteTimeout
	)
	okJSON := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
	for _, c := range []upstreamFault{
		{
			name: "connection refused", typ: "openai", refused: true,
			status: 502, errText: "connect to upstream",
		},
		{
			name: "reset before headers", typ: "anthropic", rule: &proxytest.Rule{Reset: true},
			status: 502, errText: "upstream failed",
		},
		{
			name: "reset mid-stream", typ: "openai", stream: true, rule: &proxytest.Rule{ResetAfterChunks: 3},
			cut: true, errText: "upstream stream broke",
		},
		{
			name: "reset mid-stream gemini", typ: "gemini", stream: true, rule: &proxytest.Rule{ResetAfterChunks: 2},
			cut: true, errText: "upstream stream broke",
		},
		{
			name: "stall mid-stream past the idle timeout", typ: "anthropic", stream: true,
			rule: &proxytest.Rule{ChunkDelay: 20 * idle},
			cut:  true, errText: "timeout",
		},
		{
			name: "stall before headers past the first-byte timeout", typ: "gemini",
			rule:   &proxytest.Rule{HeaderDelay: 20 * firstByte},
			status: 504, errText: "no response within",
		},
		{
			name: "200 with garbage JSON", typ: "openai", rule: &proxytest.Rule{Garbage: true},
			status: 200, body: `proxytest: this is not JSON {"truncated": `, pooled: 1,
		},
		{
			name: "200 with garbage SSE", typ: "openai", stream: true, rule: &proxytest.Rule{Garbage: true},
			status: 200, body: "data: {this is not json}\n\nthis line is not an SSE field\nevent\n\ndata: {\"truncated\": ", pooled: 1,
		},
		{
			name: "interim 100 and 103 before the answer", typ: "anthropic", rule: &proxytest.Rule{Interim: []int{100, 103}},
			status: 200, bodyHas: `"type":"message"`, pooled: 1,
		},
		{
			name: "17 interim answers", typ: "openai",
			raw: func(w io.Writer, _ int, _ *http.Request) bool {
				fmt.Fprint(w, strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n", 17)+okJSON)
				return true
			},
			status: 502, errText: "informational",
		},
		{
			name: "101 to a plain request", typ: "openai",
			raw: func(w io.Writer, _ int, _ *http.Request) bool {
				fmt.Fprint(w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"+okJSON)
				return true
			},
			status: 502, errText: "101",
		},
		{
			name: "not HTTP", typ: "anthropic",
			raw: func(w io.Writer, _ int, _ *http.Request) bool {
				fmt.Fprint(w, "SSH-2.0-OpenSSH_9.6\r\n\r\n")
				return true
			},
			status: 502, errText: "upstream failed",
		},
		{
			name: "malformed chunked framing", typ: "openai", stream: true,
			raw: func(w io.Writer, _ int, _ *http.Request) bool {
				fmt.Fprint(w, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+
					"f\r\ndata: {\"a\":1}\n\n\r\nzz\r\ndata: {\"b\":2}\n\n\r\n0\r\n\r\n")
				return true // and keep the connection: the proxy must close it
			},
			cut: true, bodyHas: `data: {"a":1}`, errText: "malformed chunked",
		},
		{
			name: "Content-Length longer than the body, then silence", typ: "gemini",
			raw: func(w io.Writer, _ int, _ *http.Request) bool {
				fmt.Fprint(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nX-Upstream-Trace: abc\r\n"+
					"Content-Length: 100\r\n\r\n{\"candidates\":[")
				return true
			},
			status: 504, errText: "timeout",
		},
		{
			name: "stream headers, then reset before the first event", typ: "anthropic", stream: true,
			raw: func(w io.Writer, _ int, _ *http.Request) bool {
				fmt.Fprint(w, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
				w.(*countedConn).SetLinger(0)
				return false
			},
			status: 502, errText: "connection reset",
		},
		{
			name: "stream headers, then silence past the idle timeout", typ: "openai", stream: true,
			raw: func(w io.Writer, _ int, _ *http.Request) bool {
				fmt.Fprint(w, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
				return true
			},
			status: 504, errText: "timeout",
		},
		{
			name: "Content-Length longer than the body, then close", typ: "openai",
			raw: func(w io.Writer, _ int, _ *http.Request) bool {
				fmt.Fprint(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"choices\":[")
				return false
			},
			status: 502, errText: "unexpected EOF",
		},
		{
			name: "large Content-Length longer than the body", typ: "openai",
			raw: func(w io.Writer, _ int, _ *http.Request) bool {
				fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", 1<<20, strings.Repeat(" ", 100<<10))
				return false
			},
			cut: true, errText: "unexpected EOF",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, func(cfg *proxy.Config) {
				cfg.StreamIdle, cfg.FirstByteTimeout = idle, firstByte
			})
		})
	}
}

// upstreamFault is one misbehaviour of the upstream and what the client
// must get.
type upstreamFault struct {
	name    string
	typ     string // provider type, which decides the error shape
	stream  bool   // a streamed request
	refused bool   // the base URL is a port nobody listens on
	rule    *proxytest.Rule
	// raw answers each request with bytes of its own; false closes the
	// connection after them.
	raw func(w io.Writer, n int, r *http.Request) bool

	status  int    // aigw's error status, or 200 for an answer passed on whole
	body    string // the exact body passed on, when set
	bodyHas string // a part of the body passed on, when set
	cut     bool   // the answer starts (200) and its body ends with an error
	errText string // in the error body and the trace
	pooled  int    // upstream connections the pool may keep afterwards
}

func (c upstreamFault) run(t *testing.T, mod func(*proxy.Config)) {
	before := goroutines()
	e := newEnv(t, mod)
	var ups *countingUpstream
	switch {
	case c.refused:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ln.Close()
		ups = &countingUpstream{url: url, close: func() {}}
	case c.raw != nil:
		ups = rawCountingUpstream(t, c.raw)
	default:
		ups = fakeCountingUpstream(t)
		ups.fake.Program(*c.rule)
	}
	e.provider("p", c.typ, func(p *store.Provider) { p.BaseURL = ups.url })
	cred := e.cred("p", "sk-fault-secret", 1)
	key := e.key(store.KeyInput{Provider: "p", Credentials: []string{cred}, MaxRetries: ptr(0)})

	tr := &http.Transport{DisableCompression: true} // see Content-Encoding as sent
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	path, body := faultRequest(c.typ, c.stream)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	got, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(began)
	if took > 3*time.Second {
		t.Errorf("the answer took %v", took)
	}

	switch {
	case c.cut:
		if resp.StatusCode != 200 {
			t.Fatalf("status %d %s, want 200 and a cut stream", resp.StatusCode, got)
		}
		if readErr == nil {
			t.Fatalf("the cut answer ended like a whole one (%d bytes: %.200q): the client cannot tell", len(got), got)
		}
		if len(got) == 0 || !strings.Contains(string(got), c.bodyHas) {
			t.Errorf("before the cut the client got %.300q, want what the upstream sent (%q)", got, c.bodyHas)
		}
	case c.status == 200:
		if readErr != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d, read error %v", resp.StatusCode, readErr)
		}
		if c.body != "" && string(got) != c.body {
			t.Fatalf("body %q, want the upstream's %q", got, c.body)
		}
		if !strings.Contains(string(got), c.bodyHas) {
			t.Fatalf("body %.300s lacks %s", got, c.bodyHas)
		}
	default:
		if readErr != nil {
			t.Fatalf("reading the error: %v", readErr)
		}
		checkErrorShape(t, c.typ, c.status, resp, got, c.errText)
	}

	// The trace tells what went wrong.
	trace := e.rec.wait(t, 1)[0]
	switch {
	case c.cut:
		if trace.Status != 200 || !strings.Contains(trace.Error, c.errText) {
			t.Errorf("trace: status %d, error %q; want 200 and %q", trace.Status, trace.Error, c.errText)
		}
	case c.status == 200:
		if trace.Status != 200 || trace.Error != "" {
			t.Errorf("trace: status %d, error %q", trace.Status, trace.Error)
		}
		if c.rule != nil && c.rule.Garbage && (trace.UsageSource != "none" || trace.CostKnown) {
			t.Errorf("trace of a garbage answer: usage_source %q, cost_known %v; want none, false", trace.UsageSource, trace.CostKnown)
		}
	default:
		if trace.Status != c.status || !strings.Contains(trace.Error, c.errText) {
			t.Errorf("trace: status %d, error %q; want %d and %q", trace.Status, trace.Error, c.status, c.errText)
		}
		if len(trace.Attempts) != 1 {
			t.Errorf("trace attempts: %+v", trace.Attempts)
		}
	}

	// Nothing stays in the request path, and a connection whose exchange
	// failed is closed.
	waitFor(t, 3*time.Second, "no goroutine left in the request path", func() (bool, string) {
		n, stack := requestGoroutines()
		return n == 0, fmt.Sprintf("%d:\n%s", n, stack)
	})
	waitFor(t, 3*time.Second, "upstream connections back to what the pool keeps", func() (bool, string) {
		n := ups.open.Load()
		return n <= int64(c.pooled), fmt.Sprintf("%d open, want at most %d", n, c.pooled)
	})

	// Everything shut down: the goroutine count is back to where it was.
	tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := e.px.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	e.fake.Close()
	ups.close()
	waitFor(t, 5*time.Second, "goroutines back to the baseline", func() (bool, string) {
		n := goroutines()
		return n <= before, fmt.Sprintf("%d, baseline %d:\n%s", n, before, allStacks())
	})
}

// faultRequest is a request of the provider's own API.
func faultRequest(typ string, stream bool) (path, body string) {
	switch typ {
	case "anthropic":
		return "/p/v1/messages", fmt.Sprintf(`{"model":"claude-sonnet-4-5","max_tokens":10,"stream":%v,"messages":[{"role":"user","content":"hi"}]}`, stream)
	case "gemini":
		if stream {
			return "/p/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", `{"contents":[{"parts":[{"text":"hi"}]}]}`
		}
		return "/p/v1beta/models/gemini-2.5-flash:generateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`
	}
	if stream {
		return "/p/v1/chat/completions", chatStreamBody
	}
	return "/p/v1/chat/completions", chatBody
}

// checkErrorShape asserts that an answer is aigw's own error in the
// provider's shape: the status, JSON, the message naming the fault, and
// none of a broken upstream answer's headers describing its body.
func checkErrorShape(t *testing.T, typ string, status int, resp *http.Response, body []byte, has string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d %s, want %d", resp.StatusCode, body, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("aigw's error is labelled Content-Encoding: %s (the upstream's)", ce)
	}
	if resp.Header.Get("X-Aigw-Request-Id") == "" {
		t.Errorf("no x-aigw-request-id")
	}
	var v struct {
		Type  string
		Error struct {
			Message string
			Type    string
			Code    any
			Status  string
		}
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, body)
	}
	ok := v.Error.Message != "" && strings.Contains(v.Error.Message, has)
	switch typ {
	case "anthropic":
		ok = ok && v.Type == "error" && v.Error.Type != ""
	case "gemini":
		ok = ok && v.Error.Code == float64(status) && v.Error.Status != ""
	default:
		ok = ok && v.Error.Type != "" && v.Error.Code != nil
	}
	if !ok {
		t.Fatalf("error body %s is not a %s error naming %q", body, typ, has)
	}
}

// countingUpstream is an upstream whose connections are counted from
// accept to close: after a failed exchange the proxy must close its end,
// which makes the upstream close its own.
type countingUpstream struct {
	url   string
	open  atomic.Int64
	fake  *proxytest.Upstream
	close func()
}

type countingListener struct {
	net.Listener
	u *countingUpstream
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.u.open.Add(1)
	return &countedConn{TCPConn: c.(*net.TCPConn), u: l.u}, nil
}

type countedConn struct {
	*net.TCPConn // SetLinger included, for the fake's resets
	u            *countingUpstream
	once         sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.u.open.Add(-1) })
	return c.TCPConn.Close()
}

func listenCounting(t *testing.T, u *countingUpstream) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.url = "http://" + ln.Addr().String()
	return countingListener{Listener: ln, u: u}
}

// fakeCountingUpstream serves the real fake provider on a counting listener.
func fakeCountingUpstream(t *testing.T) *countingUpstream {
	u := &countingUpstream{fake: proxytest.NewUpstream()}
	ln := listenCounting(t, u)
	srv := &http.Server{Handler: u.fake, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	var once sync.Once
	u.close = func() {
		once.Do(func() {
			u.fake.Close()
			_ = srv.Close()
			<-served
		})
	}
	t.Cleanup(u.close)
	return u
}

// rawCountingUpstream reads each request of a kept-alive connection and
// lets answer write the bytes it likes; answer returning false closes the
// connection.
func rawCountingUpstream(t *testing.T, answer func(w io.Writer, n int, r *http.Request) bool) *countingUpstream {
	u := &countingUpstream{}
	ln := listenCounting(t, u)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	count := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[conn] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, conn)
					mu.Unlock()
					conn.Close()
				}()
				br := bufio.NewReader(conn)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, r.Body)
					mu.Lock()
					count++
					n := count
					mu.Unlock()
					if !answer(conn, n, r) {
						return
					}
				}
			}()
		}
	}()
	var once sync.Once
	u.close = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			for c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		})
	}
	t.Cleanup(u.close)
	return u
}

// rawConnFrame is a stack frame of aigw's connection type.
var rawConnFrame = regexp.MustCompile(`github.com/aigw/aigw/proxy\.\(\*rawConn\)[^\n]*`)

// requestGoroutines counts the goroutines running the proxy's request
// path: those with a frame of package proxy, other than the accept loop
// and the memory ticker that live as long as the server.
func requestGoroutines() (int, string) {
	n := 0
	var out strings.Builder
	for _, g := range strings.Split(allStacks(), "\n\n") {
		// a kept-alive client connection waits for its next request in
		// a read of aigw's connection type: that is not a request
		frames := rawConnFrame.ReplaceAllString(g, "")
		if !strings.Contains(frames, "github.com/aigw/aigw/proxy.") ||
			strings.Contains(g, "proxy.(*Proxy).Serve") || strings.Contains(g, "proxy.(*Proxy).returnMemory") {
			continue
		}
		n++
		out.WriteString(g + "\n\n")
	}
	return n, out.String()
}

// goroutines counts the goroutines but fasthttp's housekeeping ones: one
// per server or upstream at most, which sleep out their idle period (10 s,
// 60 s) before they notice there is nothing left to clean, and the one
// per process that keeps the Date header current.
func goroutines() int {
	n := 0
	for _, g := range strings.Split(allStacks(), "\n\n") {
		if !strings.Contains(g, "fasthttp.(*workerPool).Start.func2") &&
			!strings.Contains(g, "fasthttp.(*HostClient).connsCleaner") &&
			!strings.Contains(g, "fasthttp.updateServerDate") {
			n++
		}
	}
	return n
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitFor polls cond until it holds or d has passed, then fails with what
// it last said.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %s", what, d, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
