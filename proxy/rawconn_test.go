//go:build linux

package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// rawPair is a loopback TCP connection: the raw side as the gateway
// holds it, the other as its peer (a client or an upstream).
func rawPair(t *testing.T) (raw net.Conn, peer *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	raw = newRawConn(c)
	if _, ok := raw.(*rawConn); !ok {
		t.Fatalf("newRawConn(%T) = %T", c, raw)
	}
	t.Cleanup(func() { raw.Close(); a.Close() })
	return raw, a.(*net.TCPConn)
}

// Data larger than the socket buffers goes both ways intact: writes that
// fill the buffer wait for the peer, reads wait for data.
func TestRawConnCarriesLargeData(t *testing.T) {
	raw, peer := rawPair(t)
	out := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	for i := range out {
		out[i] ^= byte(i >> 12)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(out))))
		got <- b
	}()
	n, err := raw.Write(out)
	if err != nil || n != len(out) {
		t.Fatalf("write: %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, out) {
		t.Fatalf("peer read %d bytes, not what was written", len(b))
	}

	go func() {
		time.Sleep(20 * time.Millisecond) // the read waits for it
		peer.Write(out)
		peer.CloseWrite()
	}()
	back, err := io.ReadAll(raw)
	if err != nil || !bytes.Equal(back, out) {
		t.Fatalf("read back %d bytes, %v", len(back), err)
	}
	// the peer finished sending: io.EOF, as from net.TCPConn
	if n, err := raw.Read(make([]byte, 16)); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer's end: %d, %v; want 0, EOF", n, err)
	}
}

// A read past its deadline fails as a timeout, and the connection is
// usable once the deadline is moved.
func TestRawConnDeadline(t *testing.T) {
	raw, peer := rawPair(t)
	raw.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	start := time.Now()
	_, err := raw.Read(make([]byte, 16))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v; want a timeout", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond || d > 2*time.Second {
		t.Fatalf("the read gave up after %v", d)
	}
	raw.SetReadDeadline(time.Time{})
	peer.Write([]byte("hello"))
	buf := make([]byte, 16)
	n, err := raw.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read after clearing the deadline: %q, %v", buf[:n], err)
	}
}

// The errors the proxy tells apart come out as net.TCPConn's do: a reset
// peer (ECONNRESET), a write to a reset peer (EPIPE or ECONNRESET), a
// connection closed here (net.ErrClosed).
func TestRawConnErrors(t *testing.T) {
	raw, peer := rawPair(t)
	peer.SetLinger(0)
	peer.Close() // RST
	time.Sleep(20 * time.Millisecond)
	if _, err := raw.Read(make([]byte, 16)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read from a reset connection: %v; want ECONNRESET", err)
	}
	var err error
	for range 10 { // the first write after a reset may still be taken
		if _, err = raw.Write([]byte("x")); err != nil {
			break
		}
	}
	if !isReset(err) {
		t.Fatalf("write to a reset connection: %v; want EPIPE or ECONNRESET", err)
	}

	raw2, _ := rawPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := raw2.Read(make([]byte, 16))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	raw2.Close() // wakes the waiting read
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a connection closed meanwhile: %v; want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake the read")
	}
	if _, err := raw2.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v; want net.ErrClosed", err)
	}
}

// Writes from several goroutines at once each arrive whole, as with
// net.TCPConn: one caller's bytes are never interleaved with another's.
func TestRawConnConcurrentWrites(t *testing.T) {
	raw, peer := rawPair(t)
	const writers, size = 4, 256 << 10
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, writers*size))
		got <- b
	}()
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			_, err := raw.Write(bytes.Repeat([]byte{'a' + byte(w)}, size))
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	b := <-got
	if len(b) != writers*size {
		t.Fatalf("peer read %d bytes, want %d", len(b), writers*size)
	}
	seen := map[byte]bool{}
	for i := 0; i < len(b); i += size {
		run := b[i : i+size]
		if seen[run[0]] || bytes.Count(run, run[:1]) != size {
			t.Fatalf("bytes %d–%d are not one writer's whole write", i, i+size)
		}
		seen[run[0]] = true
	}
}
