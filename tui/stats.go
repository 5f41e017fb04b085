package tui

import (
	"math"
	"slices"
	"time"

	"github.com/aigw/aigw/admin"
)

// The Overview's live figures come from the trace stream, counted in
// one-second buckets over the last statSeconds seconds (fixed memory
// whatever the traffic). Latency percentiles come from the latest
// sampleCap requests inside the window: at more than sampleCap requests a
// minute they describe the most recent ones.
const (
	statSeconds = 600              // the charts' span: 10 minutes
	statWindow  = 60               // seconds: the live figures' window
	sampleCap   = 4096             // latency samples kept
	chartStep   = 10 * time.Second // one chart column

	chartColumns = statSeconds * int(time.Second) / int(chartStep) // the most a chart draws
)

type secBucket struct {
	sec        int64 // the unix second counted here; another value means stale
	requests   int64
	errors     int64
	tokens     int64
	latencySum float64
}

type sample struct {
	sec               int64
	latency, overhead float64
}

// liveStats counts the traces the stream delivers.
type liveStats struct {
	buckets [statSeconds]secBucket
	samples []sample // a ring of sampleCap
	next    int
}

func failed(t *admin.Trace) bool { return t.Status >= 400 || t.Status == 0 }

// add counts t at the second it finished (its start plus its latency),
// so that a reconnection's backlog lands where it happened.
func (s *liveStats) add(t *admin.Trace, now time.Time) {
	end := t.Time.Add(time.Duration(t.LatencyMS * float64(time.Millisecond)))
	if end.After(now) {
		end = now
	}
	sec := end.Unix()
	if sec <= now.Unix()-statSeconds {
		return
	}
	b := &s.buckets[sec%statSeconds]
	if b.sec != sec {
		*b = secBucket{sec: sec}
	}
	b.requests++
	if failed(t) {
		b.errors++
	}
	b.tokens += t.PromptTokens + t.CompletionTokens
	b.latencySum += t.LatencyMS
	sm := sample{sec: sec, latency: t.LatencyMS, overhead: t.OverheadMS}
	if len(s.samples) < sampleCap {
		s.samples = append(s.samples, sm)
		return
	}
	s.samples[s.next] = sm
	s.next = (s.next + 1) % sampleCap
}

// bucket returns second sec's counts (zero if nothing was counted then).
func (s *liveStats) bucket(sec int64) secBucket {
	b := s.buckets[((sec%statSeconds)+statSeconds)%statSeconds]
	if b.sec != sec {
		return secBucket{sec: sec}
	}
	return b
}

// figures are the Overview's live numbers over the last statWindow seconds.
type figures struct {
	Requests, Errors int64
	RPS              float64
	ErrorRate        float64 // 0..1
	TokensPerMin     float64
	// Latency and aigw's own overhead (ms); valid when Samples > 0.
	P50, P99, OverheadP50, OverheadP99 float64
	Samples                            int
}

func (s *liveStats) figures(now time.Time) figures {
	var f figures
	last := now.Unix()
	var tokens int64
	for sec := last - statWindow + 1; sec <= last; sec++ {
		b := s.bucket(sec)
		f.Requests += b.requests
		f.Errors += b.errors
		tokens += b.tokens
	}
	f.RPS = float64(f.Requests) / statWindow
	f.TokensPerMin = float64(tokens) * 60 / statWindow
	if f.Requests > 0 {
		f.ErrorRate = float64(f.Errors) / float64(f.Requests)
	}
	var lat, over []float64
	for _, sm := range s.samples {
		if sm.sec > last-statWindow && sm.sec <= last {
			lat = append(lat, sm.latency)
			over = append(over, sm.overhead)
		}
	}
	f.Samples = len(lat)
	f.P50, f.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	f.OverheadP50, f.OverheadP99 = percentile(over, 0.50), percentile(over, 0.99)
	return f
}

// percentile is the nearest-rank percentile of vs (0 for none); it sorts vs.
func percentile(vs []float64, p float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	slices.Sort(vs)
	i := int(math.Ceil(p*float64(len(vs)))) - 1
	return vs[min(max(i, 0), len(vs)-1)]
}

// series are the charts' columns, oldest first, the last one ending now.
type series struct {
	RPS, Errors, TokensPerMin, Latency []float64
}

// series sums the buckets into n columns of chartStep.
func (s *liveStats) series(now time.Time, n int) series {
	step := int64(chartStep / time.Second)
	n = min(n, statSeconds/int(step))
	out := series{
		RPS: make([]float64, n), Errors: make([]float64, n),
		TokensPerMin: make([]float64, n), Latency: make([]float64, n),
	}
	last := now.Unix()
	for col := 0; col < n; col++ {
		end := last - int64(n-1-col)*step
		var req, errs, tok int64
		var latSum float64
		for sec := end - step + 1; sec <= end; sec++ {
			b := s.bucket(sec)
			req += b.requests
			errs += b.errors
			tok += b.tokens
			latSum += b.latencySum
		}
		out.RPS[col] = float64(req) / float64(step)
		out.Errors[col] = float64(errs)
		out.TokensPerMin[col] = float64(tok) * 60 / float64(step)
		if req > 0 {
			out.Latency[col] = latSum / float64(req)
		}
	}
	return out
}

// traceRing keeps the latest traces, newest first; memory is bounded.
type traceRing struct {
	buf   []admin.Trace
	start int // index of the oldest
	n     int
}

func newTraceRing(capacity int) *traceRing {
	return &traceRing{buf: make([]admin.Trace, max(capacity, 1))}
}

func (r *traceRing) push(t admin.Trace) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = t
		r.n++
		return
	}
	r.buf[r.start] = t
	r.start = (r.start + 1) % len(r.buf)
}

func (r *traceRing) len() int { return r.n }

// at returns the i-th newest trace (0: the newest).
func (r *traceRing) at(i int) *admin.Trace {
	return &r.buf[(r.start+r.n-1-i)%len(r.buf)]
}
