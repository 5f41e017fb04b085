package store

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// Traces are stored in a compact binary form: about a fifth of their JSON,
// which keeps the database (and the pages the process maps of it) small at
// millions of traces, and costs a fraction of encoding/json to write.
//
//	version byte (1)
//	time: unix nanoseconds, 8 bytes big endian (first, so filters can read it alone)
//	then in Trace's field order: strings as uvarint length + bytes, integers
//	as uvarints (signed ones zig-zag), floats as 8 bytes, bools as one byte,
//	attempts as a count followed by their fields.
//
// Values starting with '{' are JSON written by earlier development builds
// and are still read.
//
// Version 2 appends the affinity string; version 1 records end before it.
// Version 3 appends the cache writes split by lifetime (5-minute, 1-hour).
const (
	traceCodecV1 = 1
	traceCodecV2 = 2
	traceCodecV3 = 3
)

// binaryTrace reports whether a stored trace starting with b is in the
// binary form, of a version this build reads.
func binaryTrace(b byte) bool { return b >= traceCodecV1 && b <= traceCodecV3 }

var errBadTrace = errors.New("damaged trace record")

func appendTrace(b []byte, t *Trace) []byte {
	b = append(b, traceCodecV3)
	b = binary.BigEndian.AppendUint64(b, uint64(t.Time.UnixNano()))
	for _, s := range [...]string{t.RequestID, t.KeyID, t.KeyName, t.KeyPreview, t.Provider, t.CredentialID,
		t.Strategy, t.Method, t.Path, t.Model} {
		b = appendString(b, s)
	}
	b = appendBool(b, t.Stream)
	b = binary.AppendVarint(b, int64(t.Status))
	for _, f := range [...]float64{t.LatencyMS, t.TTFBMS, t.OverheadMS} {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(f))
	}
	b = binary.AppendVarint(b, int64(t.Retries))
	b = binary.AppendUvarint(b, uint64(len(t.Attempts)))
	for _, a := range t.Attempts {
		b = appendString(b, a.CredentialID)
		b = binary.AppendVarint(b, int64(a.Status))
		b = appendString(b, a.Error)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(a.LatencyMS))
	}
	for _, n := range [...]int64{t.PromptTokens, t.CompletionTokens, t.CacheCreationTokens, t.CacheReadTokens, t.ReasoningTokens} {
		b = binary.AppendVarint(b, n)
	}
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(t.CostUSD))
	b = appendBool(b, t.CostKnown)
	b = appendString(b, t.UsageSource)
	b = binary.AppendVarint(b, t.BytesOut)
	b = appendString(b, t.Error)
	b = appendString(b, t.Affinity) // v2
	b = binary.AppendVarint(b, int64(t.CacheWrite5mTokens))
	return binary.AppendVarint(b, int64(t.CacheWrite1hTokens)) // v3
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// traceReader decodes one record; the first error sticks.
type traceReader struct {
	b   []byte
	err error
}

func (r *traceReader) fail() {
	if r.err == nil {
		r.err = errBadTrace
	}
	r.b = nil
}

func (r *traceReader) str() string {
	return string(r.raw()) // copies out of the mmap
}

// raw reads a length-prefixed string as a slice of the record.
func (r *traceReader) raw() []byte {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.fail()
		return nil
	}
	s := r.b[k : k+int(n)]
	r.b = r.b[k+int(n):]
	return s
}

func (r *traceReader) varint() int64 {
	v, k := binary.Varint(r.b)
	if k <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *traceReader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *traceReader) float() float64 { return math.Float64frombits(r.u64()) }

func (r *traceReader) bool() bool {
	if len(r.b) < 1 {
		r.fail()
		return false
	}
	v := r.b[0] != 0
	r.b = r.b[1:]
	return v
}

// decodeTrace reads a stored trace (binary, or legacy JSON) into t.
func decodeTrace(raw []byte, t *Trace) error {
	if len(raw) > 0 && raw[0] == '{' {
		return jsonDecode(raw, t)
	}
	if len(raw) < 9 || !binaryTrace(raw[0]) {
		return errBadTrace
	}
	r := traceReader{b: raw[1:]}
	*t = Trace{Time: time.Unix(0, int64(r.u64())).UTC()}
	for _, s := range [...]*string{&t.RequestID, &t.KeyID, &t.KeyName, &t.KeyPreview, &t.Provider, &t.CredentialID,
		&t.Strategy, &t.Method, &t.Path, &t.Model} {
		*s = r.str()
	}
	t.Stream = r.bool()
	t.Status = int(r.varint())
	t.LatencyMS, t.TTFBMS, t.OverheadMS = r.float(), r.float(), r.float()
	t.Retries = int(r.varint())
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)) {
		return errBadTrace
	}
	r.b = r.b[k:]
	t.Attempts = make([]Attempt, n)
	for i := range t.Attempts {
		a := &t.Attempts[i]
		a.CredentialID = r.str()
		a.Status = int(r.varint())
		a.Error = r.str()
		a.LatencyMS = r.float()
	}
	for _, p := range [...]*int64{&t.PromptTokens, &t.CompletionTokens, &t.CacheCreationTokens, &t.CacheReadTokens, &t.ReasoningTokens} {
		*p = r.varint()
	}
	t.CostUSD = r.float()
	t.CostKnown = r.bool()
	t.UsageSource = r.str()
	t.BytesOut = r.varint()
	t.Error = r.str()
	if raw[0] >= traceCodecV2 {
		t.Affinity = r.str()
	}
	if raw[0] >= traceCodecV3 {
		t.CacheWrite5mTokens = ClampInt32(r.varint())
		t.CacheWrite1hTokens = ClampInt32(r.varint())
	}
	return r.err
}

// indexedOf reads only what the trace index holds of a stored trace — its
// key id, provider, model and status — as slices of raw (nothing copied).
// ok is false for a legacy JSON trace and a damaged one.
func indexedOf(raw []byte) (key, provider, model []byte, status int, ok bool) {
	if len(raw) < 9 || !binaryTrace(raw[0]) {
		return nil, nil, nil, 0, false
	}
	r := traceReader{b: raw[9:]} // after the version and the time
	var strs [10][]byte          // RequestID … Model, as appendTrace writes them
	for i := range strs {
		strs[i] = r.raw()
	}
	r.bool() // Stream
	status = int(r.varint())
	return strs[1], strs[4], strs[9], status, r.err == nil
}

// traceTime reads only the time of a stored trace.
func traceTime(raw []byte) (time.Time, error) {
	if len(raw) >= 9 && binaryTrace(raw[0]) {
		return time.Unix(0, int64(binary.BigEndian.Uint64(raw[1:9]))).UTC(), nil
	}
	var t Trace
	err := decodeTrace(raw, &t)
	return t.Time, err
}

// ClampInt32 is n within the range of an int32.
func ClampInt32(n int64) int32 { return int32(min(max(n, math.MinInt32), math.MaxInt32)) }
