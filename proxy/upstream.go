package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aigw/aigw/store"
	"github.com/valyala/fasthttp"
)

// upstream is a provider's base URL with its keep-alive client. Clients
// are shared between snapshots (keyed by base URL and CA file), so a
// configuration change does not drop warm connections.
type upstream struct {
	conns    *connPool
	host     []byte // Host header: host[:port] as in the base URL
	basePath []byte // path prefix of the base URL, without trailing slash
	// version is basePath's last segment when it is an API version
	// ("/v1", "/v1beta"): a client path that starts with it again is
	// joined without repeating it (base …/v1 + /v1/models → …/v1/models).
	version []byte
}

// apiVersion returns the last segment of path ("/v1") when it names an API
// version: v, digits, then optionally alpha or beta and digits.
func apiVersion(path string) []byte {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return nil
	}
	seg := path[i+1:]
	if len(seg) < 2 || seg[0] != 'v' {
		return nil
	}
	j := 1
	for j < len(seg) && '0' <= seg[j] && seg[j] <= '9' {
		j++
	}
	if j == 1 {
		return nil
	}
	rest := strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(seg[j:], "alpha"), "beta"), "0123456789")
	if rest != "" {
		return nil
	}
	return []byte(path[i:])
}

// trimVersion drops from the client's path an API version segment the
// base path ends with, so that it is not said twice.
func (u *upstream) trimVersion(rest []byte) []byte {
	v := u.version
	if len(v) > 0 && bytes.HasPrefix(rest, v) && (len(rest) == len(v) || rest[len(v)] == '/') {
		return rest[len(v):]
	}
	return rest
}

// clientCache keeps one HostClient (as a connPool) per (base URL origin, CA file).
type clientCache struct {
	mu      sync.Mutex // build time only, never per request
	clients map[string]*connPool
}

// Timeouts toward upstreams that every request shares (a key's or a
// provider's own timeout only replaces the first-byte one).
type upstreamTimeouts struct {
	Connect time.Duration
}

func (cc *clientCache) get(baseURL, caFile string, t upstreamTimeouts) (*upstream, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("base URL %q: %w", baseURL, err)
	}
	isTLS := u.Scheme == "https"
	addr := u.Host
	if u.Port() == "" {
		if isTLS {
			addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	base := trimSlash(u.EscapedPath())
	up := &upstream{host: []byte(u.Host), basePath: []byte(base), version: apiVersion(base)}
	cacheKey := u.Scheme + "://" + addr + "|" + caFile
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if c, ok := cc.clients[cacheKey]; ok {
		up.conns = c
		return up, nil
	}
	var tlsConfig *tls.Config
	if isTLS {
		tlsConfig = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			pem, err := store.ReadCAFile(caFile) // bounded, and silent about which failure
			if err != nil {
				return nil, err
			}
			pool.AppendCertsFromPEM(pem)
			tlsConfig.RootCAs = pool
		}
	}
	dialer := &net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}
	c := &fasthttp.HostClient{
		Addr:                     addr,
		Name:                     "aigw",
		IsTLS:                    isTLS,
		TLSConfig:                tlsConfig,
		MaxConns:                 4096,
		MaxIdleConnDuration:      60 * time.Second,
		ConnPoolStrategy:         fasthttp.LIFO, // the most recently used connection is the warmest
		DisablePathNormalizing:   true,
		NoDefaultUserAgentHeader: true,
		ReadBufferSize:           16 << 10,
		WriteBufferSize:          8 << 10,
		Dial: func(addr string) (net.Conn, error) {
			conn, err := dialer.Dial("tcp", addr)
			if err != nil {
				return nil, &dialError{err: err}
			}
			return newRawConn(conn), nil
		},
	}
	if cc.clients == nil {
		cc.clients = map[string]*connPool{}
	}
	up.conns = newConnPool(c)
	cc.clients[cacheKey] = up.conns
	return up, nil
}

// connPool lends out a HostClient's keep-alive connections. fasthttp's
// connection type is unexported, so the HostClient's methods are held as
// values of a generic adapter that knows the type: a borrowed connection
// then travels as an interface holding a pointer, which costs no
// allocation per request (a closure over it would).
type connPool struct {
	hc    *fasthttp.HostClient
	conns connLender
}

type connLender interface {
	acquire(timeout time.Duration) (c any, conn net.Conn, reused bool, err error)
	release(c any, reuse bool)
}

type hostConn interface {
	Conn() net.Conn
	CreatedTime() time.Time
	LastUseTime() time.Time
}

type lender[C hostConn] struct {
	acquireConn func(timeout time.Duration, connectionClose bool) (C, error)
	releaseConn func(C)
	closeConn   func(C)
}

func newConnPool(hc *fasthttp.HostClient) *connPool {
	return &connPool{hc: hc, conns: newLender(hc.AcquireConn, hc.ReleaseConn, hc.CloseConn)}
}

func newLender[C hostConn](acquire func(time.Duration, bool) (C, error), release, closeConn func(C)) connLender {
	return &lender[C]{acquireConn: acquire, releaseConn: release, closeConn: closeConn}
}

func (l *lender[C]) acquire(timeout time.Duration) (any, net.Conn, bool, error) {
	cc, err := l.acquireConn(timeout, false)
	if err != nil {
		return nil, nil, false, err
	}
	return cc, cc.Conn(), !cc.CreatedTime().Equal(cc.LastUseTime()), nil
}

// release hands the connection back for reuse, or closes it.
func (l *lender[C]) release(c any, reuse bool) {
	if reuse {
		l.releaseConn(c.(C))
	} else {
		l.closeConn(c.(C))
	}
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}
