package gateway

import (
	"context"
	"io"
	"net"

	"github.com/aigw/aigw/store"
)

// startDemo is completed with the fake provider (proxytest).
func startDemo(ctx context.Context, st *store.Store, reload func() error, proxyAddr net.Addr, out io.Writer) (func(), error) {
	return func() {}, nil
}
