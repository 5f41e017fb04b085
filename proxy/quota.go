package proxy

import (
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/valyala/fasthttp"
)

// Upstream quota headers. Every answer of Anthropic and OpenAI says how
// much of each rate-limit window the credential has left:
//
//	anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}  reset: RFC 3339
//	anthropic-ratelimit-unified-{status,reset}                          subscription accounts; reset: unix seconds
//	anthropic-ratelimit-unified-{5h,7d}-{utilization,status,reset}      utilization: fraction used, 0..1
//	x-ratelimit-{limit,remaining,reset}-{requests,tokens}               reset: a duration ("1s", "6m0s", "20ms")
//
// observeQuota reads them in one pass over the answer's headers and hands
// the scheduler plain numbers. A value that does not parse is dropped (that
// window's reading goes without it, and the scheduler ignores an
// incomplete one); nothing here fails a request.

// observeQuota passes what the latest attempt's answer (x.upHeader) said
// about the credential's windows on to its live state.
func (x *exchange) observeQuota(cred *credential) {
	var q scheduler.Quota
	clock := lazyNow{now: x.p.now}
	readQuota(x.upHeader, &q, &clock)
	if q.Seen != 0 {
		cred.health.ObserveQuota(clock.get(), &q)
	}
}

// lazyNow reads the clock once, and only if asked: an answer without
// quota headers costs no clock read.
type lazyNow struct {
	now func() time.Time
	t   time.Time
}

func (l *lazyNow) get() time.Time {
	if l.t.IsZero() {
		l.t = l.now()
	}
	return l.t
}

// readQuota collects the rate-limit headers of h into q; clock gives the
// time of the answer, for resets given as a duration. The names are
// matched as fasthttp hands them over, canonical ("Anthropic-Ratelimit-
// Requests-Remaining"): it normalises every upstream answer's names.
//
// One pass with a first-byte check costs an answer without these headers
// a few nanoseconds per header; BenchmarkReadQuota compares it with a Peek
// per header name (each of which scans every header): the pass is 15× (no
// such headers) to 2.5× (Anthropic's sixteen) cheaper.
func readQuota(h *fasthttp.ResponseHeader, q *scheduler.Quota, clock *lazyNow) {
	for k, v := range h.All() {
		if len(k) < len("X-Ratelimit-Reset-Tokens") || (k[0] != 'A' && k[0] != 'X') {
			continue
		}
		if w, f := quotaHeader(k); f != fieldNone {
			readQuotaValue(q.Reading(w), f, v, clock)
		}
	}
}

// readQuotaValue reads one header's value into its window's reading; a
// value that does not parse is left out.
func readQuotaValue(r *scheduler.QuotaReading, f quotaField, v []byte, clock *lazyNow) {
	switch f {
	case fieldLimit:
		if x, ok := parseCount(v); ok {
			r.Limit, r.Has = x, r.Has|scheduler.HasLimit
		}
	case fieldRemaining:
		if x, ok := parseCount(v); ok {
			r.Remaining, r.Has = x, r.Has|scheduler.HasRemaining
		}
	case fieldUtilization:
		if x, ok := parseFraction(v); ok {
			r.Utilization, r.Has = x, r.Has|scheduler.HasUtilization
		}
	case fieldStatus:
		if s := quotaStatus(v); s != scheduler.StatusUnknown {
			r.Status, r.Has = s, r.Has|scheduler.HasStatus
		}
	case fieldReset:
		// RFC 3339 for the counted windows, unix seconds for the
		// unified ones; either is taken in either place.
		if t, ok := parseUnixTime(v); ok {
			r.Reset, r.Has = t, r.Has|scheduler.HasReset
		} else if t, ok := parseRFC3339(v); ok {
			r.Reset, r.Has = t, r.Has|scheduler.HasReset
		}
	case fieldResetIn:
		if t, ok := parseUnixTime(v); ok && t > unixTimeFloor {
			r.Reset, r.Has = t, r.Has|scheduler.HasReset // some compatible upstreams send a time
		} else if d, ok := parseDuration(v); ok {
			r.Reset, r.Has = clock.get().UnixNano()+max(d, 1), r.Has|scheduler.HasReset
		}
	}
}

// quotaField is what a rate-limit header gives of its window.
type quotaField uint8

const (
	fieldNone quotaField = iota
	fieldLimit
	fieldRemaining
	fieldUtilization
	fieldStatus
	fieldReset   // a point in time: RFC 3339 or unix seconds (Anthropic)
	fieldResetIn // a duration from now (OpenAI)
)

// quotaHeader names the window and field of a rate-limit header; fieldNone
// for any other header (and for windows aigw does not track: per-model,
// overage, …).
func quotaHeader(k []byte) (scheduler.QuotaWindow, quotaField) {
	switch string(k) {
	case "Anthropic-Ratelimit-Requests-Limit":
		return scheduler.WindowRequests, fieldLimit
	case "Anthropic-Ratelimit-Requests-Remaining":
		return scheduler.WindowRequests, fieldRemaining
	case "Anthropic-Ratelimit-Requests-Reset":
		return scheduler.WindowRequests, fieldReset
	case "Anthropic-Ratelimit-Tokens-Limit":
		return scheduler.WindowTokens, fieldLimit
	case "Anthropic-Ratelimit-Tokens-Remaining":
		return scheduler.WindowTokens, fieldRemaining
	case "Anthropic-Ratelimit-Tokens-Reset":
		return scheduler.WindowTokens, fieldReset
	case "Anthropic-Ratelimit-Input-Tokens-Limit":
		return scheduler.WindowInputTokens, fieldLimit
	case "Anthropic-Ratelimit-Input-Tokens-Remaining":
		return scheduler.WindowInputTokens, fieldRemaining
	case "Anthropic-Ratelimit-Input-Tokens-Reset":
		return scheduler.WindowInputTokens, fieldReset
	case "Anthropic-Ratelimit-Output-Tokens-Limit":
		return scheduler.WindowOutputTokens, fieldLimit
	case "Anthropic-Ratelimit-Output-Tokens-Remaining":
		return scheduler.WindowOutputTokens, fieldRemaining
	case "Anthropic-Ratelimit-Output-Tokens-Reset":
		return scheduler.WindowOutputTokens, fieldReset
	case "Anthropic-Ratelimit-Unified-Status":
		return scheduler.WindowUnified, fieldStatus
	case "Anthropic-Ratelimit-Unified-Reset":
		return scheduler.WindowUnified, fieldReset
	case "Anthropic-Ratelimit-Unified-5h-Utilization":
		return scheduler.WindowUnified5h, fieldUtilization
	case "Anthropic-Ratelimit-Unified-5h-Status":
		return scheduler.WindowUnified5h, fieldStatus
	case "Anthropic-Ratelimit-Unified-5h-Reset":
		return scheduler.WindowUnified5h, fieldReset
	case "Anthropic-Ratelimit-Unified-7d-Utilization":
		return scheduler.WindowUnified7d, fieldUtilization
	case "Anthropic-Ratelimit-Unified-7d-Status":
		return scheduler.WindowUnified7d, fieldStatus
	case "Anthropic-Ratelimit-Unified-7d-Reset":
		return scheduler.WindowUnified7d, fieldReset
	case "X-Ratelimit-Limit-Requests":
		return scheduler.WindowRequests, fieldLimit
	case "X-Ratelimit-Remaining-Requests":
		return scheduler.WindowRequests, fieldRemaining
	case "X-Ratelimit-Reset-Requests":
		return scheduler.WindowRequests, fieldResetIn
	case "X-Ratelimit-Limit-Tokens":
		return scheduler.WindowTokens, fieldLimit
	case "X-Ratelimit-Remaining-Tokens":
		return scheduler.WindowTokens, fieldRemaining
	case "X-Ratelimit-Reset-Tokens":
		return scheduler.WindowTokens, fieldResetIn
	}
	return 0, fieldNone
}

func quotaStatus(v []byte) scheduler.QuotaStatus {
	switch string(trimSpace(v)) {
	case "allowed":
		return scheduler.StatusAllowed
	case "allowed_warning":
		return scheduler.StatusWarning
	case "rejected":
		return scheduler.StatusRejected
	}
	return scheduler.StatusUnknown
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseCount parses a non-negative decimal integer of at most 18 digits.
func parseCount(b []byte) (int64, bool) {
	b = trimSpace(b)
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseFraction parses a non-negative decimal ("0.42", "1", "1.0", ".5")
// of at most 18 digits; no sign, no exponent.
func parseFraction(b []byte) (float64, bool) {
	b = trimSpace(b)
	var whole, frac int64
	var scale float64 = 1
	digits, dot := 0, false
	for _, c := range b {
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			digits++
			if digits > 18 {
				return 0, false
			}
			if dot {
				frac, scale = frac*10+int64(c-'0'), scale*10
			} else {
				whole = whole*10 + int64(c-'0')
			}
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	return float64(whole) + float64(frac)/scale, true
}

// unixTimeFloor: a bare number above it is a point in time (unix seconds
// or milliseconds), not a number of seconds (about 31 years).
const unixTimeFloor = 1_000_000_000 * int64(time.Second)

// parseUnixTime parses unix seconds (up to the year 2255), or unix
// milliseconds (from 1e11: March 1973 in milliseconds, the year 5138 in
// seconds), into unix ns; anything between or beyond is refused. A number
// small enough to be a duration is returned as such (in ns, as seconds):
// the caller decides with unixTimeFloor.
func parseUnixTime(b []byte) (int64, bool) {
	n, ok := parseCount(b)
	switch {
	case !ok:
		return 0, false
	case n <= 9e9:
		return n * int64(time.Second), true
	case n >= 1e11 && n <= 9e12:
		return n * int64(time.Millisecond), true
	}
	return 0, false
}

// parseRFC3339 parses "2006-01-02T15:04:05[.999999999](Z|±07:00)" into
// unix ns, for years 1970-2200 (anything else is no use as a reset).
func parseRFC3339(b []byte) (int64, bool) {
	b = trimSpace(b)
	if len(b) < len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' || b[10] != 'T' ||
		b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || year < 1970 || year > 2200 ||
		month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	rest := b[19:]
	var nsec int
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 || i > 10 {
			return 0, false
		}
		nsec, _ = digits(rest[1:i])
		for range 10 - i {
			nsec *= 10
		}
		rest = rest[i:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 April, 29 February of a common year
		return 0, false
	}
	return t.UnixNano() - int64(offset)*int64(time.Second), true
}

// digits parses a short run of decimal digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// maxDuration bounds a duration read from a header (about 146 years):
// beyond it, garbage.
const maxDuration = 1 << 62

// parseDuration parses a Go-style duration as OpenAI sends it ("1s",
// "6m0s", "20ms", "1h2m3.5s", "7.66s"): units ns, us, µs, ms, s, m, h; no
// sign. A bare number is seconds. It agrees with time.ParseDuration on
// every input it accepts (a differential test checks).
func parseDuration(b []byte) (int64, bool) {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	if n, ok := parseCount(b); ok {
		if n > maxDuration/int64(time.Second) {
			return 0, false
		}
		return n * int64(time.Second), true
	}
	var total uint64
	for len(b) > 0 {
		var v uint64
		i := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if v > maxDuration/10 {
				return 0, false
			}
			v = v*10 + uint64(b[i]-'0')
		}
		pre := i > 0
		var f uint64
		scale, post := 1.0, false
		if i < len(b) && b[i] == '.' {
			i++
			start, overflow := i, false
			for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
				if overflow || f > (1<<63-1)/10 || f*10+uint64(b[i]-'0') > 1<<63 {
					overflow = true // further digits are below a nanosecond
					continue
				}
				f = f*10 + uint64(b[i]-'0')
				scale *= 10
			}
			post = i > start
		}
		if !pre && !post {
			return 0, false
		}
		j := i
		for j < len(b) && b[j] != '.' && (b[j] < '0' || b[j] > '9') {
			j++
		}
		unit := durationUnit(b[i:j])
		if unit == 0 || v > maxDuration/unit {
			return 0, false
		}
		v *= unit
		if f > 0 {
			v += uint64(float64(f) * (float64(unit) / scale))
		}
		total += v
		if v > maxDuration || total > maxDuration {
			return 0, false
		}
		b = b[j:]
	}
	return int64(total), true
}

func durationUnit(u []byte) uint64 {
	switch string(u) {
	case "ns":
		return 1
	case "us", "µs", "μs":
		return uint64(time.Microsecond)
	case "ms":
		return uint64(time.Millisecond)
	case "s":
		return uint64(time.Second)
	case "m":
		return uint64(time.Minute)
	case "h":
		return uint64(time.Hour)
	}
	return 0
}
