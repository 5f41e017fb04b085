package usage

import "unicode/utf8"

// Bounds on the client-chosen strings a trace keeps (and with it the
// request log, the roll-ups and the metrics).
const (
	MaxModel = 256  // bytes of a model name
	MaxPath  = 2048 // bytes of a request path
)

// CutMark ends a string that was cut to its bound.
const CutMark = "…"

// cutAt returns how many bytes of s to keep: all of them when s fits in max
// bytes (cut=false); otherwise a prefix that ends on a UTF-8 boundary and
// leaves room for CutMark.
func cutAt[T string | []byte](s T, max int) (n int, cut bool) {
	if len(s) <= max {
		return len(s), false
	}
	n = max - len(CutMark)
	for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(s[n]); i++ {
		n--
	}
	return n, true
}

// AppendCut appends s to dst, cut to at most max bytes (see CutString).
func AppendCut(dst, s []byte, max int) []byte {
	n, cut := cutAt(s, max)
	dst = append(dst, s[:n]...)
	if cut {
		dst = append(dst, CutMark...)
	}
	return dst
}

// CutString returns s when it fits in max bytes, else its longest prefix
// that ends on a UTF-8 boundary followed by CutMark, max bytes at most.
// A short s costs nothing.
func CutString(s string, max int) string {
	n, cut := cutAt(s, max)
	if !cut {
		return s
	}
	return s[:n] + CutMark
}

// cutBytes is string(s) cut as CutString does, without copying all of a long s.
func cutBytes(s []byte, max int) string {
	n, cut := cutAt(s, max)
	if !cut {
		return string(s)
	}
	return string(s[:n]) + CutMark
}
