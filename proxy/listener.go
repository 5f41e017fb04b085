package proxy

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultMaxConns derives the cap on concurrent client connections from
// the process's open-file limit: every client connection may hold one
// upstream connection while its request is in flight, and some descriptors
// stay for the database, the admin API, logs and listeners.
func DefaultMaxConns() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return 10_000
	}
	return maxConnsFor(lim.Cur)
}

func maxConnsFor(nofile uint64) int {
	reserve := min(nofile/4, 256)
	n := (nofile - reserve) / 2
	return int(min(max(n, 16), 1<<20))
}

// fdListener keeps accepting when the process runs out of file
// descriptors: EMFILE and ENFILE are waited out with a growing pause
// (fasthttp would take them for a permanent error and stop serving).
type fdListener struct {
	net.Listener
	waits *atomic.Uint64 // how often accept had to wait for a descriptor
	log   *serverLog
}

func (l *fdListener) Accept() (net.Conn, error) {
	pause := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return newRawConn(c), nil
		}
		if !(errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) {
			return c, err
		}
		l.waits.Add(1)
		l.log.print("proxy: out of file descriptors; accepting again shortly (lower proxy.max_conns or raise ulimit -n)")
		time.Sleep(pause)
		pause = min(2*pause, time.Second)
	}
}

// serverLog is the fasthttp server's logger. fasthttp's messages can carry
// the bytes of the request that failed (headers with a gateway key in
// them), so only the message's fixed text is kept, never its arguments;
// and lines are rate-limited, since anyone can cause them. Every message
// is counted (aigw_proxy_connection_errors_total).
type serverLog struct {
	log        *slog.Logger
	count      atomic.Uint64
	suppressed atomic.Uint64
	next       atomic.Int64 // unix ns before which lines are only counted
	every      time.Duration
}

// Printf implements fasthttp.Logger.
func (s *serverLog) Printf(format string, _ ...any) {
	s.print(fixedText(format))
}

func (s *serverLog) print(msg string) {
	s.count.Add(1)
	now := time.Now().UnixNano()
	next := s.next.Load()
	if now < next || !s.next.CompareAndSwap(next, now+int64(s.every)) {
		s.suppressed.Add(1)
		return
	}
	if n := s.suppressed.Swap(0); n > 0 {
		s.log.Warn(msg, "suppressed_since_last", n)
		return
	}
	s.log.Warn(msg)
}

// fixedText is a printf format without its verbs' places: fasthttp's
// formats are constants ("error when serving connection %q<->%q: %v"),
// their arguments are what a client sent.
func fixedText(format string) string {
	if i := strings.IndexByte(format, '%'); i >= 0 {
		format = format[:i]
	}
	format = strings.TrimRight(format, " :=\"'(")
	if format == "" {
		format = "connection error"
	}
	return "proxy: " + format
}
