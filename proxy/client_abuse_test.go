package proxy_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aigw/aigw/proxy"
)

// Client misbehaviour is bounded and other clients keep being served.
// Oversized headers (TestOversizedHeadersAre431), a stalled reader
// (TestStalledReaderIsTimedOut) and floods at the fd limit (e2e) have
// tests of their own.

// servedMeanwhile asserts that an ordinary client's request is answered
// while the abuse goes on, within the given time.
func servedMeanwhile(t *testing.T, e *env, key string, within time.Duration) {
	t.Helper()
	hc := &http.Client{Timeout: within}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.url+"/p/v1/chat/completions", strings.NewReader(chatBody))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("another client was not served meanwhile: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("another client meanwhile: %d %s", resp.StatusCode, b)
	}
}

// trickle writes s one byte every gap until it is written or a write
// fails; it reports how many bytes went out.
func trickle(conn net.Conn, s string, gap time.Duration, stop <-chan struct{}) <-chan int {
	done := make(chan int, 1)
	go func() {
		n := 0
		defer func() { done <- n }()
		for i := range len(s) {
			if _, err := conn.Write([]byte{s[i]}); err != nil {
				return
			}
			n++
			select {
			case <-stop:
				return
			case <-time.After(gap):
			}
		}
	}()
	return done
}

// readEnd reads until the proxy answers or closes the connection, bounded
// by d; it returns the answer's status (0 if none) and when the read ended.
func readEnd(t *testing.T, conn net.Conn, d time.Duration) (int, time.Duration) {
	t.Helper()
	began := time.Now()
	_ = conn.SetReadDeadline(began.Add(d))
	br := bufio.NewReader(conn)
	status := 0
	if resp, err := http.ReadResponse(br, nil); err == nil {
		status = resp.StatusCode
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// After an answer to a request that was not read whole, the proxy must
	// close the connection too.
	_, err := io.Copy(io.Discard, br)
	if isTimeoutErr(err) {
		t.Fatalf("the connection was still open after %v (status %d)", d, status)
	}
	return status, time.Since(began)
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Slowloris: request headers trickled one byte per 100 ms never make a
// request; the connection is closed once ReadTimeout has passed, and the
// upstream never hears of it.
func TestSlowlorisIsClosedByReadTimeout(t *testing.T) {
	const readTimeout = 600 * time.Millisecond
	e := newEnv(t, func(c *proxy.Config) { c.ReadTimeout = readTimeout })
	key, _ := e.setup("openai", 1, "round_robin")
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n" +
		"X-Padding: " + strings.Repeat("s", 200) + "\r\n\r\n"
	stop := make(chan struct{})
	defer close(stop)
	sent := trickle(conn, head, 100*time.Millisecond, stop)
	servedMeanwhile(t, e, key, 2*time.Second)
	status, took := readEnd(t, conn, readTimeout+2*time.Second)
	if status != 0 && status != 408 {
		t.Fatalf("the slow client got %d, want 408 or a closed connection", status)
	}
	stop <- struct{}{}
	if n := <-sent; n >= len(head) {
		t.Fatalf("the whole header went out (%d bytes): the connection was not closed", n)
	}
	t.Logf("slowloris: closed after %v with status %d", took, status)
	if n := e.fake.Count(); n != 1 {
		t.Fatalf("the upstream saw %d requests, want only the other client's", n)
	}
}

// A slow body: good headers and a known key, then the body one byte per
// 100 ms. The request ends with 408 and a closed connection once
// ReadTimeout has passed; nothing goes upstream. A small body is read by
// the server before the request reaches aigw (no trace); the rest of a
// large one by aigw after the key was checked (traced, and the body
// memory it reserved is given back).
func TestSlowBodyIsTimedOut(t *testing.T) {
	const readTimeout = 600 * time.Millisecond
	for _, c := range []struct {
		name   string
		size   int // body bytes; the part beyond 8 KiB goes out at once
		traced bool
	}{
		{"small body", 300, false},
		{"large body", 64 << 10, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *proxy.Config) { cfg.ReadTimeout = readTimeout })
			key, _ := e.setup("openai", 1, "round_robin")
			conn, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("b", c.size-64) + `"}]}`
			fast := max(len(body)-200, 0) // all but the last 200 bytes at once, then a trickle
			fmt.Fprintf(conn, "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				key, len(body), body[:fast])
			stop := make(chan struct{})
			defer close(stop)
			sent := trickle(conn, body[fast:], 100*time.Millisecond, stop)
			servedMeanwhile(t, e, key, 2*time.Second)
			status, took := readEnd(t, conn, readTimeout+2*time.Second)
			if status != 408 {
				t.Fatalf("the slow client got %d, want 408", status)
			}
			stop <- struct{}{}
			if n := <-sent; n >= len(body)-fast {
				t.Fatalf("the whole body went out: the request was not cut")
			}
			t.Logf("slow body of %d bytes: ended after %v with status %d", len(body), took, status)
			if n := e.fake.Count(); n != 1 {
				t.Fatalf("the upstream saw %d requests, want only the other client's", n)
			}
			if c.traced {
				tr := e.rec.wait(t, 2)
				slow := tr[0]
				if slow.Status == 200 {
					slow = tr[1]
				}
				if slow.Status != 408 || !strings.Contains(slow.Error, "timed out") {
					t.Errorf("trace of the slow request: %d %q", slow.Status, slow.Error)
				}
			}
			waitFor(t, 2*time.Second, "body memory given back", func() (bool, string) {
				held := e.px.ConnStats().BodyBytesHeld
				return held == 0, fmt.Sprintf("%d bytes held", held)
			})
		})
	}
}

// Thousands of idle keep-alive connections (10,000 where the fd limit
// allows) take no request slot: while they are open an ordinary client is
// served, and IdleTimeout closes them all.
func TestIdleKeepAliveConnectionsAreBounded(t *testing.T) {
	const idleTimeout = 6 * time.Second
	n := 10_000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Each connection costs two descriptors here (client and proxy side);
	// keep some for the test's own files, listeners and upstream.
	if avail := int(lim.Cur) - 1000; 2*n > avail {
		n = avail / 2
		if n < 1000 {
			t.Skipf("open-file limit %d leaves room for only %d connections", lim.Cur, n)
		}
		t.Logf("open-file limit %d: %d connections instead of 10,000", lim.Cur, n)
	}
	e := newEnv(t, func(c *proxy.Config) {
		c.IdleTimeout = idleTimeout
		c.ReadTimeout = 30 * time.Second // the requests' first step waits under it
		c.MaxConns = n + 100
	})
	key, _ := e.setup("openai", 1, "round_robin")

	// Each connection makes one request aigw answers itself (an unknown
	// provider), reads the answer and stays open, idle. The requests are
	// sent in two steps so that every connection turns idle at about the
	// same time: all but the last CRLF first (ReadTimeout applies), then
	// the rest of each, then the answers are read.
	conns := make([]net.Conn, n)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	const workers = 16
	var failed atomic.Int64
	var firstErr atomic.Value
	each := func(step func(i int) error) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					if err := step(i); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Errorf("connection %d: %w", i, err))
					}
				}
			}()
		}
		wg.Wait()
		if f := failed.Load(); f > 0 {
			t.Fatalf("%d of %d connections failed, first: %v", f, n, firstErr.Load())
		}
	}
	began := time.Now()
	each(func(i int) error {
		c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
		if err != nil {
			return err
		}
		conns[i] = c
		_, err = io.WriteString(c, "GET /nowhere/v1/models HTTP/1.1\r\nHost: x\r\n")
		return err
	})
	dialed := time.Since(began)
	began = time.Now()
	each(func(i int) error {
		_, err := io.WriteString(conns[i], "\r\n")
		return err
	})
	each(func(i int) error {
		c := conns[i]
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		_ = c.SetReadDeadline(time.Time{})
		if resp.StatusCode != 404 || resp.Close {
			return fmt.Errorf("status %d, close %v", resp.StatusCode, resp.Close)
		}
		return nil
	})
	answered := time.Since(began)
	t.Logf("%d connections: dialed in %v, answered in %v", n, dialed, answered)
	if answered >= idleTimeout*2/3 {
		t.Skipf("answering the %d requests took %v, too close to the idle timeout (%v) to tell", n, answered, idleTimeout)
	}
	opened := time.Now()
	if open := e.px.ConnStats().Open; int(open) < n {
		t.Fatalf("the proxy counts %d open connections, want %d", open, n)
	}
	servedMeanwhile(t, e, key, time.Second)
	for i, c := range conns {
		// Still open: a read finds nothing yet.
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !isTimeoutErr(err) {
			t.Fatalf("connection %d ended before the idle timeout: %v", i, err)
		}
		if i == 100 {
			break // a sample: reading each would take longer than the timeout
		}
	}

	// After IdleTimeout every one of them is closed by the proxy.
	waitFor(t, idleTimeout+5*time.Second, "idle connections closed", func() (bool, string) {
		open := e.px.ConnStats().Open
		return open == 0, fmt.Sprintf("%d still open", open)
	})
	closedBy := time.Since(opened)
	var buf [1]byte
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(buf[:]); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("connection %d: read %v, want EOF (closed by the proxy)", i, err)
		}
	}
	t.Logf("%d idle connections closed %v after they were opened", n, closedBy)
}
