// Package termsafe makes text that did not come from aigw (a client's
// model name or path, an upstream's error, a name an operator typed) safe
// to print on a terminal: whatever a terminal would act on instead of
// showing is written out as an escape, so that it can be seen and does
// nothing.
package termsafe

import "unicode/utf8"

// String returns s with every C0 control (ESC, BEL, CR, LF, TAB, BS, …),
// DEL and invalid UTF-8 byte written as \xNN, and every C1 control
// (U+0080–U+009F, the 8-bit CSI U+009B among them) and bidi override or
// isolate (U+202A–U+202E, U+2066–U+2069) written as \uNNNN. Plain text
// comes back unchanged, without a copy. The result is valid UTF-8, and
// String(String(s)) == String(s).
func String(s string) string {
	i := firstUnsafe(s)
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+16)
	b = append(b, s[:i]...)
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = appendHex(append(b, '\\', 'x'), uint32(c), 2)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = appendHex(append(b, '\\', 'x'), uint32(c), 2)
		case Unsafe(r):
			b = appendHex(append(b, '\\', 'u'), uint32(r), 4)
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// firstUnsafe is the index of the first byte String must escape, or len(s).
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			return i
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || Unsafe(r) {
			return i
		}
		i += n
	}
	return len(s)
}

// Unsafe reports whether String escapes the rune r: a C0 control, DEL, a
// C1 control, or a bidi override or isolate (which reorder the text
// around them).
func Unsafe(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

const hexDigits = "0123456789abcdef"

// appendHex appends v as digits lowercase hex digits.
func appendHex(b []byte, v uint32, digits int) []byte {
	for shift := (digits - 1) * 4; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[v>>uint(shift)&0xf])
	}
	return b
}
