package tracing

import (
	"strconv"
	"time"
	"unicode/utf8"

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
	l.b = end.UTC().AppendFormat(l.b, time.RFC3339Nano)
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
	if l.json || needsQuote(v) {
		l.b = strconv.AppendQuote(l.b, v)
		return
	}
	l.b = append(l.b, v...)
}

func (l *lineWriter) int(k string, v int64) {
	l.key(k)
	l.b = strconv.AppendInt(l.b, v, 10)
}

func (l *lineWriter) float(k string, v float64) {
	l.key(k)
	l.b = strconv.AppendFloat(l.b, v, 'f', -1, 64)
}

// needsQuote follows slog's text handler: empty values, and values with
// spaces, quotes, '=', control characters, invalid UTF-8 or non-printing
// runes are quoted.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
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

// quoteASCII marks the ASCII bytes that make a value need quotes.
var quoteASCII = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c <= ' ' || c == '=' || c == '"'
	}
	return t
}()
