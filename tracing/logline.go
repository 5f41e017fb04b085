package tracing

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aigw/aigw/internal/termsafe"
	"github.com/aigw/aigw/store"
)

// appendLogLine formats the one log line of a request, in the same shape
// log/slog's text or JSON handler would give it, without its reflection
// and allocations: this runs once per request.
func appendLogLine(b []byte, t *store.Trace, json bool) []byte {
	l := lineWriter{b: b, json: json}
	l.begin()
	end := t.Time.Add(time.Duration(t.LatencyMS * float64(time.Millisecond)))
	l.key("time")
	if l.json {
		l.b = append(l.b, '"')
	}
	l.b = appendTimeUTC(l.b, end)
	if l.json {
		l.b = append(l.b, '"')
	}
	l.str("level", "INFO")
	l.str("msg", "request")
	l.str("id", t.RequestID)
	l.str("key", t.KeyID)
	l.str("key_preview", t.KeyPreview)
	l.str("provider", t.Provider)
	l.str("credential", t.CredentialID)
	l.str("strategy", t.Strategy)
	l.str("model", t.Model)
	l.int("attempts", int64(len(t.Attempts)))
	l.int("status", int64(t.Status))
	l.float("latency_ms", t.LatencyMS)
	l.float("overhead_ms", t.OverheadMS)
	l.str("error", t.Error)
	return l.end()
}

type lineWriter struct {
	b     []byte
	json  bool
	first bool
}

func (l *lineWriter) begin() {
	l.first = true
	if l.json {
		l.b = append(l.b, '{')
	}
}

func (l *lineWriter) end() []byte {
	if l.json {
		l.b = append(l.b, '}')
	}
	return append(l.b, '\n')
}

func (l *lineWriter) key(k string) {
	if l.json {
		if !l.first {
			l.b = append(l.b, ',')
		}
		l.b = append(l.b, '"')
		l.b = append(l.b, k...)
		l.b = append(l.b, '"', ':')
	} else {
		if !l.first {
			l.b = append(l.b, ' ')
		}
		l.b = append(l.b, k...)
		l.b = append(l.b, '=')
	}
	l.first = false
}

func (l *lineWriter) str(k, v string) {
	l.key(k)
	switch {
	case l.json:
		l.b = appendJSONString(l.b, v)
	case needsQuote(v):
		l.b = strconv.AppendQuote(l.b, v) // escapes every control, C1 and bidi rune
	default:
		l.b = append(l.b, v...)
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends v as a JSON string that decodes to v (invalid
// UTF-8 becomes U+FFFD, as encoding/json does). Besides what JSON requires,
// DEL, C1 controls and bidi controls are written as \u escapes, so that the
// line does nothing to a terminal it is printed on.
func appendJSONString(b []byte, v string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		size := 1
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(v[i:])
			invalid := r == utf8.RuneError && size == 1
			if !invalid && !termsafe.Unsafe(r) {
				i += size
				continue
			}
			b = append(b, v[start:i]...)
			b = append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		} else {
			b = append(b, v[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
		}
		i += size
		start = i
	}
	b = append(b, v[start:]...)
	return append(b, '"')
}

func (l *lineWriter) int(k string, v int64) {
	l.key(k)
	l.b = strconv.AppendInt(l.b, v, 10)
}

func (l *lineWriter) float(k string, v float64) {
	l.key(k)
	l.b = appendMillis(l.b, v)
}

// appendMillis formats v as strconv.AppendFloat(b, v, 'f', -1, 64) does.
// A trace's times are milliseconds counted in whole microseconds, and for
// those (below 10^12, where a float64 still tells 0.001 apart) the
// shortest form is the decimal itself, written here from the integer.
// Anything else goes to strconv.
func appendMillis(b []byte, v float64) []byte {
	if v < 1e12 && !math.Signbit(v) {
		if us := int64(v*1000 + 0.5); float64(us)/1000 == v {
			b = strconv.AppendInt(b, us/1000, 10)
			f := us % 1000
			switch {
			case f == 0:
				return b
			case f%100 == 0:
				return append(b, '.', byte('0'+f/100))
			case f%10 == 0:
				return append(b, '.', byte('0'+f/100), byte('0'+f/10%10))
			}
			return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
		}
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// appendTimeUTC appends t in UTC as t.UTC().AppendFormat(b, time.RFC3339Nano)
// does, for a quarter of its cost (this runs once per request).
func appendTimeUTC(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	hour, minute, sec := t.Clock()
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	b = append(append2(b, int(month)), '-')
	b = append(append2(b, day), 'T')
	b = append(append2(b, hour), ':')
	b = append(append2(b, minute), ':')
	b = append2(b, sec)
	if ns := t.Nanosecond(); ns != 0 {
		b = append(b, '.')
		digits := 9
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
		start := len(b)
		b = append(b, "000000000"[:digits]...)
		for i := len(b) - 1; i >= start; i-- {
			b[i] = byte('0' + ns%10)
			ns /= 10
		}
	}
	return append(b, 'Z')
}

// append2 appends v (0–99) as two digits.
func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

// needsQuote follows slog's text handler: empty values, and values with
// spaces, quotes, '=', control characters, invalid UTF-8 or non-printing
// runes are quoted.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	// Eight bytes at a time while they are plain: printable ASCII other
	// than space, '=' and '"' (most values are ids and names).
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		eq, dq := w^(ones*'='), w^(ones*'"')
		if (w-ones*0x21)&^w&high != 0 || (eq-ones)&^eq&high != 0 || (dq-ones)&^dq&high != 0 || w&high != 0 {
			break // one of them, or a byte beyond ASCII: look closer below
		}
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if quoteASCII[c] {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// quoteASCII marks the ASCII bytes that make a value need quotes.
var quoteASCII = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c <= ' ' || c == '=' || c == '"'
	}
	return t
}()
