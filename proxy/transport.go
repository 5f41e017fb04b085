package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// roundTrip sends req over a keep-alive connection of hc, reads the
// response header into h and readies body to read the rest.
//
// fasthttp's HostClient serves as the connection pool only: owning the
// exchange lets aigw bound the wait for the first byte and each later read
// separately, and pass a streamed body on in as few writes as the bytes
// already received allow (fasthttp's own body stream returns one chunk per
// read, so a 20-event stream would cost 20 writes to the client).
func roundTrip(pool *connPool, req *fasthttp.Request, h *fasthttp.ResponseHeader, body *upstreamBody, deadline time.Time, idle time.Duration) error {
	for try := 0; ; try++ {
		cc, conn, reused, err := pool.conns.acquire(time.Until(deadline))
		if err != nil {
			return err
		}
		br, err := exchangeHeader(pool.hc, conn, req, h, deadline)
		if err == nil {
			body.start(pool, cc, conn, br, h, req.Header.IsHead(), idle)
			return nil
		}
		pool.conns.release(cc, false)
		// A pooled connection the upstream closed while it sat idle fails
		// before any byte of the answer: that is the connection's fault, so
		// the request goes once more on a fresh one.
		var se *staleError
		if try == 0 && reused && errors.As(err, &se) {
			continue
		}
		return err
	}
}

// staleError: the connection ended before the first response byte.
type staleError struct{ err error }

func (e *staleError) Error() string { return e.err.Error() }
func (e *staleError) Unwrap() error { return e.err }

func exchangeHeader(hc *fasthttp.HostClient, conn net.Conn, req *fasthttp.Request, h *fasthttp.ResponseHeader, deadline time.Time) (*bufio.Reader, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	bw := hc.AcquireWriter(conn)
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		if isEOF(err) || isReset(err) || errors.Is(err, net.ErrClosed) {
			return nil, &staleError{err}
		}
		return nil, err
	}
	br := hc.AcquireReader(conn)
	// Informational answers (100 Continue, 103 Early Hints) come before the
	// real one on the same connection: they are read and dropped, or the
	// real answer would be left on the connection for the next request —
	// another client's — to read as its own.
	for interim := 0; ; interim++ {
		h.Reset()
		if err := h.Read(br); err != nil {
			hc.ReleaseReader(br)
			if interim == 0 && (isEOF(err) || isReset(err)) {
				return nil, &staleError{err}
			}
			return nil, err
		}
		status := h.StatusCode()
		if status >= 200 {
			return br, nil
		}
		if status == fasthttp.StatusSwitchingProtocols || status < 100 || interim == maxInterim {
			// aigw never asks to switch protocols (Upgrade is not forwarded)
			hc.ReleaseReader(br)
			return nil, &protocolError{status: status}
		}
	}
}

// maxInterim bounds the informational answers read before the final one.
const maxInterim = 16

// protocolError: the upstream answered with a status aigw cannot pass on
// (101 to a request that asked for no upgrade, a status below 100, or an
// endless run of informational answers). The connection is closed.
type protocolError struct{ status int }

func (e *protocolError) Error() string {
	if e.status >= 100 && e.status < 200 && e.status != fasthttp.StatusSwitchingProtocols {
		return "upstream sent more than " + strconv.Itoa(maxInterim) + " informational responses"
	}
	return "upstream answered with status " + strconv.Itoa(e.status) + ", which is not a final response"
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Body framing of an upstream response.
const (
	framingLength = iota // Content-Length bytes
	framingChunked
	framingClose // until the connection closes (not reusable)
)

// upstreamBody reads an upstream response body straight from the
// connection's buffered reader. A read returns as soon as it has bytes and
// nothing more is buffered, so events that arrived together leave together.
// Close hands the connection back to the pool when the body was read to
// its end, and closes it otherwise (which cancels the upstream request).
type upstreamBody struct {
	pool      *connPool
	cc        any // the borrowed connection, returned by Close
	br        *bufio.Reader
	conn      net.Conn
	framing   int
	left      int64 // framingLength: bytes still to come; chunked: of the current chunk
	eof       bool
	err       error
	idle      time.Duration
	idleSetAt int64 // unix ns of the last idle deadline
	keepAlive bool  // the upstream did not say Connection: close
	active    bool
}

func (b *upstreamBody) start(pool *connPool, cc any, conn net.Conn, br *bufio.Reader, h *fasthttp.ResponseHeader, head bool, idle time.Duration) {
	*b = upstreamBody{pool: pool, cc: cc, br: br, conn: conn, idle: idle, active: true}
	status := h.StatusCode()
	b.keepAlive = !h.ConnectionClose()
	switch cl := h.ContentLength(); {
	case head || status == 204 || status == 304:
		b.framing, b.eof = framingLength, true
	case cl >= 0:
		b.framing, b.left, b.eof = framingLength, int64(cl), cl == 0
	case cl == -1:
		b.framing = framingChunked
	default:
		b.framing = framingClose
	}
}

// Size is the body's length when known, else -1.
func (b *upstreamBody) Size() int {
	if b.framing == framingLength {
		return int(b.left)
	}
	return -1
}

// Done reports whether the body was read to its end.
func (b *upstreamBody) Done() bool { return b.eof }

func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	// Bound the wait for more bytes by the idle timeout, unless the rest of
	// the body is already buffered (a small answer: no timer to move).
	if b.framing != framingLength || int64(b.br.Buffered()) < b.left {
		if err := b.armIdle(); err != nil {
			b.err = err
			return 0, err
		}
	}
	var n int
	var err error
	switch b.framing {
	case framingLength:
		n, err = b.br.Read(p[:min(int64(len(p)), b.left)])
		b.left -= int64(n)
		if b.left == 0 {
			b.eof, err = true, io.EOF
		} else if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
	case framingChunked:
		n, err = b.readChunked(p)
	default:
		n, err = b.br.Read(p)
		if errors.Is(err, io.EOF) {
			b.eof = true
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}

// armIdle bounds the wait for the next bytes by the idle timeout, setting
// the deadline at most every idle/16.
func (b *upstreamBody) armIdle() error {
	if b.idle <= 0 {
		return nil
	}
	now := time.Now()
	if ns := now.UnixNano(); ns-b.idleSetAt > int64(b.idle/16) {
		b.idleSetAt = ns
		return b.conn.SetReadDeadline(now.Add(b.idle))
	}
	return nil
}

var errBadChunk = errors.New("malformed chunked encoding from the upstream")

// readChunked decodes chunked framing, taking every chunk already
// buffered into p before returning.
func (b *upstreamBody) readChunked(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if b.left == 0 {
			if n > 0 && b.br.Buffered() == 0 {
				return n, nil // do not wait for the next chunk with bytes in hand
			}
			size, err := b.chunkSize()
			if err != nil {
				return n, err
			}
			if size == 0 {
				if err := b.trailer(); err != nil {
					return n, err
				}
				b.eof = true
				return n, io.EOF
			}
			b.left = size
		}
		if n > 0 && b.br.Buffered() == 0 {
			return n, nil
		}
		m, err := b.br.Read(p[n:min(int64(len(p)), int64(n)+b.left)])
		n += m
		b.left -= int64(m)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		if b.left == 0 {
			if err := b.crlf(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (b *upstreamBody) chunkSize() (int64, error) {
	line, err := b.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			err = errBadChunk
		}
		return 0, err
	}
	var size int64
	digits := 0
	for _, c := range line {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			if digits == 0 || (c != '\r' && c != '\n' && c != ';' && c != ' ' && c != '\t') {
				return 0, errBadChunk
			}
			return size, nil // extensions after ';' are ignored
		}
		if digits++; digits > 15 {
			return 0, errBadChunk
		}
		size = size<<4 | int64(v)
	}
	return 0, errBadChunk
}

func (b *upstreamBody) crlf() error {
	c, err := b.br.ReadByte()
	if err == nil && c == '\r' {
		c, err = b.br.ReadByte()
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if c != '\n' {
		return errBadChunk
	}
	return nil
}

// trailer skips trailer fields up to the empty line.
func (b *upstreamBody) trailer() error {
	for {
		line, err := b.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return errBadChunk
		}
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			return nil
		}
	}
}

// Close returns the connection to the pool if the body ended cleanly and
// closes it otherwise. Safe to call once per start; later calls do nothing.
func (b *upstreamBody) Close() {
	if !b.active {
		return
	}
	b.active = false
	// Reused only after an exchange that ended cleanly: the body read to its
	// end by its framing, nothing left over (bytes after the body would be
	// read as the next request's answer), and no Connection: close.
	clean := b.eof && b.err == nil && b.framing != framingClose && b.keepAlive && b.br.Buffered() == 0
	b.pool.hc.ReleaseReader(b.br)
	b.pool.conns.release(b.cc, clean)
	b.pool, b.cc, b.br, b.conn = nil, nil, nil, nil
}
