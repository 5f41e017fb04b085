package proxy

import (
	"testing"
	"unsafe"
)

// A gateway key's entry stays 128 bytes (one size class): at 100,000
// keys they are most of the gateway's memory.
func TestKeyEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(gwKey{}); n != 128 {
		t.Errorf("gwKey is %d bytes; want 128", n)
	}
}
