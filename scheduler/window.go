package scheduler

import (
	"math"
	"sync/atomic"
	"time"
)

// Window counts events over a sliding minute, approximated from the
// current and the previous fixed minute (the estimate weighs the previous
// minute by the part of it still inside the sliding window). Lock-free;
// concurrent callers may overshoot a limit by a few events at the edge.
type Window struct {
	minute atomic.Int64 // index of the current fixed minute
	cur    atomic.Int64
	prev   atomic.Int64
}

const minuteNS = int64(time.Minute)

// rotate moves the window to now's minute.
func (w *Window) rotate(now int64) int64 {
	m := now / minuteNS
	for {
		old := w.minute.Load()
		if old >= m {
			return m
		}
		if w.minute.CompareAndSwap(old, m) {
			c := w.cur.Swap(0)
			if m-old == 1 {
				w.prev.Store(c)
			} else {
				w.prev.Store(0)
			}
			return m
		}
	}
}

// Estimate is the number of events in the minute before now.
func (w *Window) Estimate(now int64) float64 {
	m := w.rotate(now)
	frac := float64(now-m*minuteNS) / float64(minuteNS)
	return float64(w.prev.Load())*(1-frac) + float64(w.cur.Load())
}

// Add counts n events at now.
func (w *Window) Add(now, n int64) {
	w.rotate(now)
	w.cur.Add(n)
}

// Allow counts one event if fewer than limit happened in the last minute;
// otherwise it returns how long until one would be allowed.
func (w *Window) Allow(now, limit int64) (bool, time.Duration) {
	return w.AllowN(now, 1, limit)
}

// AllowN counts n events if the minute's estimate stays at or below limit.
func (w *Window) AllowN(now, n, limit int64) (bool, time.Duration) {
	if limit <= 0 {
		return true, 0
	}
	if w.Estimate(now)+float64(n) <= float64(limit) {
		w.cur.Add(n)
		return true, 0
	}
	return false, w.wait(now, limit-n)
}

// Over reports whether the minute already holds limit or more, and if so
// how long until it does not (for limits charged after the fact, like tokens).
func (w *Window) Over(now, limit int64) (bool, time.Duration) {
	if limit <= 0 || w.Estimate(now) < float64(limit) {
		return false, 0
	}
	return true, w.wait(now, limit)
}

// wait is the time until the estimate drops to target (AllowN: limit-n,
// so that a client waiting that long is let in; Over: limit).
func (w *Window) wait(now, target int64) time.Duration {
	m := now / minuteNS
	elapsed := float64(now-m*minuteNS) / float64(minuteNS)
	cur, prev, l := float64(w.cur.Load()), float64(w.prev.Load()), float64(max(target, 0))
	var minutes float64
	switch {
	case cur > 0 && cur >= l: // only the next minute, as cur decays, brings it down
		minutes = (1 - elapsed) + (1 - l/cur)
	case prev > 0:
		minutes = math.Max(0, (1-(l-cur)/prev)-elapsed)
	}
	d := time.Duration(minutes * float64(time.Minute))
	return max(d, time.Second)
}
