package scheduler

import (
	"math"
	"strconv"
	"sync/atomic"
	"time"
)

// Upstream quota windows. Providers announce on every answer how much of
// each rate-limit window a credential has left; the proxy reads those
// headers and hands the figures over as a Quota, in plain numbers. The
// scheduler keeps the latest reading per window and credential, takes a
// credential out of rotation while one of its windows is used up (until
// that window resets: no 429 needed, no trial), and tells health_best (and
// any strategy through Room) which credential has the most room left.

// QuotaWindow names one rate-limit window. The set is fixed, so that the
// series of /metrics stay bounded.
type QuotaWindow uint8

const (
	WindowRequests     QuotaWindow = iota // requests (OpenAI, Anthropic)
	WindowTokens                          // tokens (OpenAI, Anthropic)
	WindowInputTokens                     // input tokens (Anthropic)
	WindowOutputTokens                    // output tokens (Anthropic)
	WindowUnified                         // a subscription account's overall decision (Anthropic unified status)
	WindowUnified5h                       // a subscription account's 5-hour window
	WindowUnified7d                       // a subscription account's weekly window
	NumQuotaWindows
)

var windowNames = [NumQuotaWindows]string{"requests", "tokens", "input_tokens", "output_tokens", "unified", "unified_5h", "unified_7d"}

func (w QuotaWindow) String() string {
	if w < NumQuotaWindows {
		return windowNames[w]
	}
	return "unknown"
}

// QuotaWindowNames lists every window name, in order.
func QuotaWindowNames() []string { return windowNames[:] }

// counted reports whether the window is announced as a count (limit and
// remaining), not as a fraction used with a status.
func (w QuotaWindow) counted() bool { return w <= WindowOutputTokens }

// maxReset is how far ahead a window's reset is believed: a later one is
// capped there (an upstream's garbage must not take a credential out for
// ever).
func (w QuotaWindow) maxReset() time.Duration {
	if w == WindowUnified7d || w == WindowUnified {
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// QuotaStatus is a subscription window's own verdict.
type QuotaStatus uint8

const (
	StatusUnknown QuotaStatus = iota
	StatusAllowed
	StatusWarning  // allowed, but close to the limit
	StatusRejected // the window refuses requests
)

func (s QuotaStatus) String() string {
	switch s {
	case StatusAllowed:
		return "allowed"
	case StatusWarning:
		return "allowed_warning"
	case StatusRejected:
		return "rejected"
	}
	return ""
}

// What a QuotaReading holds (Has).
const (
	HasLimit uint8 = 1 << iota
	HasRemaining
	HasUtilization
	HasStatus
	HasReset
)

// QuotaReading is what one answer said about one window. Only the fields
// named in Has were given (and parsed); the rest are zero.
type QuotaReading struct {
	Has         uint8
	Status      QuotaStatus
	Limit       int64   // ≥ 0
	Remaining   int64   // ≥ 0
	Utilization float64 // fraction used (1 = all), ≥ 0
	Reset       int64   // unix ns
}

// Quota is what one answer said about every window it named. The zero
// value says nothing.
type Quota struct {
	Seen uint16 // bit w: W[w] holds something
	W    [NumQuotaWindows]QuotaReading
}

// Reading returns window w's reading, marked as seen, for the caller to fill.
func (q *Quota) Reading(w QuotaWindow) *QuotaReading {
	q.Seen |= 1 << w
	return &q.W[w]
}

// check validates a reading against now: a window needs its reset (in the
// future; capped at maxReset) and, for a counted window, its remaining
// count, or for a subscription window its utilization or status. It
// returns the reading as kept, with the fraction left (-1: unknown).
func (r QuotaReading) check(w QuotaWindow, now int64) (QuotaReading, float64, bool) {
	if r.Has&HasReset == 0 || r.Reset <= now || r.Limit < 0 || r.Remaining < 0 ||
		math.IsNaN(r.Utilization) || math.IsInf(r.Utilization, 0) || r.Utilization < 0 {
		return r, 0, false
	}
	r.Reset = min(r.Reset, now+int64(w.maxReset()))
	left := -1.0
	switch {
	case w.counted():
		if r.Has&HasRemaining == 0 {
			return r, 0, false
		}
		r.Has &^= HasUtilization | HasStatus
		switch {
		case r.Remaining == 0:
			left = 0
		case r.Has&HasLimit != 0 && r.Limit > 0:
			left = min(float64(r.Remaining)/float64(r.Limit), 1) // Anthropic rounds tokens left to thousands
		}
	case w == WindowUnified:
		if r.Has&HasStatus == 0 {
			return r, 0, false
		}
		r.Has &^= HasLimit | HasRemaining | HasUtilization
		if r.Status == StatusRejected {
			left = 0
		}
	default:
		if r.Has&(HasUtilization|HasStatus) == 0 {
			return r, 0, false
		}
		r.Has &^= HasLimit | HasRemaining
		if r.Has&HasUtilization != 0 {
			left = max(1-r.Utilization, 0)
		}
		if r.Status == StatusRejected {
			left = 0
		}
	}
	return r, left, true
}

// quotaSlot is the latest reading of one window. Its fields are written
// one by one, reset last, and read without a lock: two answers arriving at
// once may leave a mix of both, which is as good a hint as either.
type quotaSlot struct {
	reset     atomic.Int64 // unix ns; 0: nothing known
	limit     atomic.Int64
	remaining atomic.Int64
	used      atomic.Uint64 // float64 bits: utilization
	left      atomic.Uint64 // float64 bits: fraction left, -1 unknown
	flags     atomic.Uint32 // Has | Status<<8
}

// ObserveQuota keeps what an upstream answer said about c's windows (see
// Quota); readings that do not make sense are ignored, window by window.
// When a window is used up, c leaves rotation until the latest reset among
// the used-up windows; when every window has room again (a later answer,
// or the resets passing), it is back.
func (c *Cred) ObserveQuota(now time.Time, q *Quota) {
	if q.Seen == 0 {
		return
	}
	ns := now.UnixNano()
	var seen uint32
	for w := range NumQuotaWindows {
		if q.Seen&(1<<w) == 0 {
			continue
		}
		r, left, ok := q.W[w].check(w, ns)
		if !ok {
			continue
		}
		s := &c.quota[w]
		s.limit.Store(r.Limit)
		s.remaining.Store(r.Remaining)
		s.used.Store(math.Float64bits(r.Utilization))
		s.left.Store(math.Float64bits(left))
		s.flags.Store(uint32(r.Has) | uint32(r.Status)<<8)
		s.reset.Store(r.Reset)
		seen |= 1 << w
	}
	if seen == 0 {
		return
	}
	c.quotaSeen.Or(seen)
	until, w := c.exhaustedUntil(ns) // 0, or after now
	old := c.quotaUntil.Load()
	if until == old {
		return
	}
	starts := until != 0 && old <= ns
	if starts {
		why := c.windowText(w)
		c.quotaWhy.Store(&why) // before the mark, so that whoever sees the mark has the reason
	}
	if !c.quotaUntil.CompareAndSwap(old, until) {
		return // another answer is recording its own reading
	}
	switch {
	case starts:
		c.h.onChange(Change{Credential: c.ID, From: c.State(), To: Exhausted, Until: time.Unix(0, until), Reason: *c.quotaWhy.Load()})
	case until == 0:
		c.h.onChange(Change{Credential: c.ID, From: Exhausted, To: c.State(), Reason: "upstream reports room in every quota window again"})
	}
}

// exhaustedUntil is the latest reset among c's used-up windows (0: none),
// and one such window.
func (c *Cred) exhaustedUntil(now int64) (int64, QuotaWindow) {
	var until int64
	var which QuotaWindow
	seen := c.quotaSeen.Load()
	for w := range NumQuotaWindows {
		if seen&(1<<w) == 0 {
			continue
		}
		s := &c.quota[w]
		if r := s.reset.Load(); r > now && r > until && math.Float64frombits(s.left.Load()) == 0 {
			until, which = r, w
		}
	}
	return until, which
}

// windowText says why window w keeps c out, for the state's reason:
// "requests window: 0 of 50 left", "unified_5h window: 100% used".
func (c *Cred) windowText(w QuotaWindow) string {
	s := &c.quota[w]
	flags := s.flags.Load()
	has, st := uint8(flags), QuotaStatus(flags>>8)
	out := w.String() + " window: "
	switch {
	case w.counted() && has&HasLimit != 0:
		return out + strconv.FormatInt(s.remaining.Load(), 10) + " of " + strconv.FormatInt(s.limit.Load(), 10) + " left"
	case w.counted():
		return out + strconv.FormatInt(s.remaining.Load(), 10) + " left"
	case st == StatusRejected:
		return out + "rejected"
	}
	return out + strconv.FormatFloat(100*math.Float64frombits(s.used.Load()), 'f', 0, 64) + "% used"
}

// exhausted reports whether an upstream window keeps c out of rotation
// at now. When the reset has passed, it clears the mark (once) and reports
// the credential back.
func (c *Cred) exhausted(now int64) bool {
	until := c.quotaUntil.Load()
	return until != 0 && c.stillExhausted(now, until) // inlined: one load when no window is used up
}

func (c *Cred) stillExhausted(now, until int64) bool {
	if now < until {
		return true
	}
	if c.quotaUntil.CompareAndSwap(until, 0) {
		c.h.onChange(Change{Credential: c.ID, From: Exhausted, To: c.State(), Reason: "upstream quota window reset"})
	}
	return false
}

// Room is the fraction of c's tightest upstream quota window still left at
// now: 1 when nothing is known, 0 while a window is used up, otherwise the
// least remaining/limit (or 1 - utilization) over the windows that have
// not reset yet.
func (c *Cred) Room(now int64) float64 {
	if c.quotaSeen.Load() == 0 {
		return 1 // inlined: one load for a credential whose upstream names no window
	}
	return c.room(now)
}

func (c *Cred) room(now int64) float64 {
	seen := c.quotaSeen.Load()
	if now < c.quotaUntil.Load() {
		return 0
	}
	room := 1.0
	for w := range NumQuotaWindows {
		if seen&(1<<w) == 0 {
			continue
		}
		s := &c.quota[w]
		if now >= s.reset.Load() {
			continue // reset since: refilled
		}
		if left := math.Float64frombits(s.left.Load()); left >= 0 && left < room {
			room = left
		}
	}
	return room
}

// clearQuota forgets every window (a new secret may be another account).
func (c *Cred) clearQuota() {
	c.quotaSeen.Store(0)
	for w := range c.quota {
		c.quota[w].reset.Store(0)
	}
	if old := c.quotaUntil.Swap(0); old > c.h.now().UnixNano() {
		c.h.onChange(Change{Credential: c.ID, From: Exhausted, To: c.State(), Reason: "secret replaced: its quota windows are not known yet"})
	}
}

// QuotaWindowStatus is the latest reading of one window, for display.
type QuotaWindowStatus struct {
	Window      string   `json:"window"`
	Limit       *int64   `json:"limit,omitempty"`
	Remaining   *int64   `json:"remaining,omitempty"`
	Utilization *float64 `json:"utilization,omitempty"` // fraction used
	Status      string   `json:"status,omitempty"`      // allowed, allowed_warning, rejected
	// RemainingFraction is the part of the window left (0..1), when known.
	RemainingFraction *float64  `json:"remaining_fraction,omitempty"`
	Reset             time.Time `json:"reset"`
	Exhausted         bool      `json:"exhausted,omitempty"`
}

// quotaStatus lists the windows that have not reset by now.
func (c *Cred) quotaStatus(now int64) []QuotaWindowStatus {
	seen := c.quotaSeen.Load()
	if seen == 0 {
		return nil
	}
	var out []QuotaWindowStatus
	for w := range NumQuotaWindows {
		s := &c.quota[w]
		reset := s.reset.Load()
		if seen&(1<<w) == 0 || now >= reset {
			continue
		}
		flags := s.flags.Load()
		has, st := uint8(flags), QuotaStatus(flags>>8)
		ws := QuotaWindowStatus{Window: w.String(), Status: st.String(), Reset: time.Unix(0, reset).UTC()}
		if has&HasLimit != 0 {
			v := s.limit.Load()
			ws.Limit = &v
		}
		if has&HasRemaining != 0 {
			v := s.remaining.Load()
			ws.Remaining = &v
		}
		if has&HasUtilization != 0 {
			v := math.Float64frombits(s.used.Load())
			ws.Utilization = &v
		}
		if left := math.Float64frombits(s.left.Load()); left >= 0 {
			ws.RemainingFraction = &left
			ws.Exhausted = left == 0
		}
		out = append(out, ws)
	}
	return out
}
