package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// upstream is a provider's base URL with its keep-alive client. Clients
// are shared between snapshots (keyed by base URL and CA file), so a
// configuration change does not drop warm connections.
type upstream struct {
	client   *fasthttp.HostClient
	scheme   []byte
	host     []byte // Host header: host[:port] as in the base URL
	basePath []byte // path prefix of the base URL, without trailing slash
}

// clientCache keeps one HostClient per (base URL origin, CA file).
type clientCache struct {
	mu      sync.Mutex // build time only, never per request
	clients map[string]*fasthttp.HostClient
}

// Timeouts toward upstreams that every request shares (a key's or a
// provider's own timeout only replaces the first-byte one).
type upstreamTimeouts struct {
	Connect time.Duration
	Idle    time.Duration
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
	up := &upstream{scheme: []byte(u.Scheme), host: []byte(u.Host), basePath: []byte(trimSlash(u.EscapedPath()))}
	cacheKey := u.Scheme + "://" + addr + "|" + caFile
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if c, ok := cc.clients[cacheKey]; ok {
		up.client = c
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
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return nil, fmt.Errorf("ca_file: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ca_file %s holds no PEM certificate", caFile)
			}
			tlsConfig.RootCAs = pool
		}
	}
	dialer := &net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}
	c := &fasthttp.HostClient{
		Addr:                          addr,
		Name:                          "aigw",
		IsTLS:                         isTLS,
		TLSConfig:                     tlsConfig,
		MaxConns:                      4096,
		MaxIdleConnDuration:           60 * time.Second,
		MaxIdemponentCallAttempts:     2,
		RetryIfErr:                    retryStaleConn,
		StreamResponseBody:            true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: false,
		ReadBufferSize:                16 << 10,
		WriteBufferSize:               16 << 10,
		Dial: func(addr string) (net.Conn, error) {
			conn, err := dialer.Dial("tcp", addr)
			if err != nil {
				return nil, &dialError{err: err}
			}
			return &idleConn{Conn: conn, idle: t.Idle}, nil
		},
	}
	if cc.clients == nil {
		cc.clients = map[string]*fasthttp.HostClient{}
	}
	cc.clients[cacheKey] = c
	up.client = c
	return up, nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// retryStaleConn lets fasthttp resend a request once when a pooled
// keep-alive connection turned out to be closed by the upstream before any
// response byte: that is the connection's fault, not the credential's.
func retryStaleConn(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	return false, attempts < 2 && (err == fasthttp.ErrConnectionClosed || isEOF(err))
}

// idleConn bounds the wait for a response: fasthttp arms a read deadline
// (the first-byte timeout) before reading the response; once the first byte
// has arrived every further read (headers, body, stream chunks) may wait up
// to idle since the previous one. The deadline is refreshed at most every
// idle/16, which keeps the cost per read to a clock read.
//
// fasthttp uses a connection from one goroutine at a time; Close (from an
// interrupted stream) may come from another and touches no field.
type idleConn struct {
	net.Conn
	idle    time.Duration
	armed   bool  // waiting for the first byte under fasthttp's deadline
	lastSet int64 // unix ns of the last idle deadline set
}

func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.armed = true
	return c.Conn.SetReadDeadline(t)
}

func (c *idleConn) Read(p []byte) (int, error) {
	if !c.armed && c.idle > 0 {
		now := time.Now()
		if ns := now.UnixNano(); ns-c.lastSet > int64(c.idle/16) {
			if err := c.Conn.SetReadDeadline(now.Add(c.idle)); err != nil {
				return 0, err
			}
			c.lastSet = ns
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 && c.armed {
		c.armed = false
		c.lastSet = 0
	}
	return n, err
}
