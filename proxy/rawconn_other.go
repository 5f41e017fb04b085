//go:build !linux

package proxy

import "net"

// newRawConn keeps the connection as it is: the raw socket calls of
// rawconn.go are Linux's.
func newRawConn(c net.Conn) net.Conn { return c }
