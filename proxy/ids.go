package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// idGen makes request ids that sort by time: 48 bits of milliseconds and a
// 16-bit sequence, seeded at random, in 13 characters of base32hex.
type idGen struct{ seq atomic.Uint64 }

func (g *idGen) init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	g.seq.Store(binary.LittleEndian.Uint64(b[:]))
}

const base32hex = "0123456789abcdefghijklmnopqrstuv"

// next appends a new id to dst.
func (g *idGen) next(dst []byte, now time.Time) []byte {
	v := uint64(now.UnixMilli())<<16 | (g.seq.Add(1) & 0xffff)
	var buf [13]byte
	for i := len(buf) - 1; i >= 0; i-- {
		buf[i] = base32hex[v&31]
		v >>= 5
	}
	return append(dst, buf[:]...)
}
