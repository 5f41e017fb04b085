package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/store"
)

// idGen makes request ids that sort by time: 48 bits of milliseconds and a
// 16-bit sequence, seeded at random, in 13 characters of base32hex.
type idGen struct{ seq atomic.Uint64 }

func (g *idGen) init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	g.seq.Store(binary.LittleEndian.Uint64(b[:]))
}

// next appends a new id to dst.
func (g *idGen) next(dst []byte, now time.Time) []byte {
	return store.AppendRequestID(dst, now.UnixMilli(), uint16(g.seq.Add(1)))
}
