//go:build linux

package proxy

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// rawConn is a TCP connection whose reads and writes are single
// non-blocking system calls made without telling Go's scheduler, waiting
// for readiness in the runtime's network poller as net.Conn does.
//
// A socket call on a non-blocking descriptor never blocks, but Go's
// scheduler treats every system call as one that might: it wakes its
// monitor thread when a call begins on an otherwise idle process, and
// hands the processor to another thread when a call is still running at
// the monitor's next look (20 µs). On loopback a write runs the
// receiver's side of TCP and takes that long, so with the gateway on one
// core a request paid for the monitor's wake-ups and thread switches
// more than for its own work (README, Performance). Deadlines, Close and
// the rest are net.TCPConn's.
type rawConn struct {
	*net.TCPConn
	rc syscall.RawConn

	// the call in progress: a Read and a Write may run at once, two
	// Reads (or two Writes) one after the other (net.Conn allows callers
	// on several goroutines).
	rmu, wmu   sync.Mutex
	rbuf, wbuf []byte
	rn, wn     int
	rerr, werr syscall.Errno
	readFn     func(fd uintptr) bool // c.read, bound once
	writeFn    func(fd uintptr) bool
}

// newRawConn wraps c; a connection that is not TCP, or whose descriptor
// cannot be reached, is returned as it is.
func newRawConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawConn{TCPConn: tc, rc: rc}
	r.readFn = r.read
	r.writeFn = r.write
	return r
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerr = p, 0, 0
	err := c.rc.Read(c.readFn)
	c.rbuf = nil
	if err != nil {
		return 0, err // closed, or the deadline passed: net's own errors
	}
	if c.rerr != 0 {
		return 0, c.opError("read", c.rerr)
	}
	if c.rn == 0 {
		return 0, io.EOF
	}
	return c.rn, nil
}

func (c *rawConn) read(fd uintptr) bool {
	var ready bool
	c.rn, c.rerr, ready = sockCall(syscall.SYS_READ, fd, c.rbuf)
	return ready
}

func (c *rawConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	written := 0
	for written < len(p) {
		c.wbuf, c.wn, c.werr = p[written:], 0, 0
		err := c.rc.Write(c.writeFn)
		c.wbuf = nil
		written += c.wn
		if err != nil {
			return written, err
		}
		if c.werr != 0 {
			return written, c.opError("write", c.werr)
		}
		if c.wn == 0 {
			return written, io.ErrUnexpectedEOF // as internal/poll says it
		}
	}
	return written, nil
}

func (c *rawConn) write(fd uintptr) bool {
	var ready bool
	c.wn, c.werr, ready = sockCall(syscall.SYS_WRITE, fd, c.wbuf)
	return ready
}

// sockCall makes one read or write call (trap) on the non-blocking socket
// fd; ready is false when the socket had nothing to read or no room to
// write, and the poller is to wait for it.
func sockCall(trap, fd uintptr, b []byte) (n int, errno syscall.Errno, ready bool) {
	for {
		r, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			return int(r), 0, true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, 0, false
		}
		return 0, e, true
	}
}

// opError is the error net.TCPConn would have returned for errno.
func (c *rawConn) opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}
