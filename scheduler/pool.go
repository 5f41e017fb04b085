package scheduler

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Strategy decides the order in which a pool offers its credentials.
type Strategy uint8

const (
	RoundRobin    Strategy = iota // each credential in turn
	Weighted                      // in proportion to weights, smoothly interleaved
	HealthBest                    // best recent success rate, then lowest latency
	CacheAffinity                 // one conversation on one credential (rendezvous hashing), else as HealthBest
)

// ParseStrategy maps the configured name to a Strategy.
func ParseStrategy(s string) (Strategy, error) {
	switch s {
	case "round_robin", "":
		return RoundRobin, nil
	case "weighted":
		return Weighted, nil
	case "health_best":
		return HealthBest, nil
	case "cache_affinity":
		return CacheAffinity, nil
	}
	return 0, fmt.Errorf("unknown strategy %q", s)
}

func (s Strategy) String() string {
	return [...]string{"round_robin", "weighted", "health_best", "cache_affinity"}[s]
}

// MaxPool is the most credentials a pool holds (the tried set is a bitmask).
const MaxPool = 64

// Tried is the set of pool positions already attempted by one request.
type Tried uint64

// Add marks position i as tried.
func (t *Tried) Add(i int) { *t |= 1 << uint(i) }

// Has reports whether position i was tried.
func (t Tried) Has(i int) bool { return t&(1<<uint(i)) != 0 }

// Pool is one key's credentials with its strategy. It is immutable once
// built, except for its rotation counter; a reload builds a new one.
type Pool struct {
	creds    []*Cred
	strategy Strategy
	schedule []uint8      // Weighted: positions in smooth weighted round-robin order
	affinity []rendezvous // CacheAffinity: each credential's seed and weight
	next     atomic.Uint64
}

// NewPool builds a pool; weights (≥ 1) are used by Weighted only.
func NewPool(s Strategy, creds []*Cred, weights []int) (*Pool, error) {
	if len(creds) == 0 || len(creds) > MaxPool {
		return nil, fmt.Errorf("a pool holds 1 to %d credentials, not %d", MaxPool, len(creds))
	}
	p := &Pool{creds: creds, strategy: s}
	switch s {
	case Weighted:
		p.schedule = smoothSchedule(weights)
	case CacheAffinity:
		p.affinity = newRendezvous(creds, weights)
	}
	return p, nil
}

// Len is the number of credentials in the pool.
func (p *Pool) Len() int { return len(p.creds) }

// Cred returns the credential at position i.
func (p *Pool) Cred(i int) *Cred { return p.creds[i] }

// Strategy is the pool's strategy.
func (p *Pool) Strategy() Strategy { return p.strategy }

// maxSchedule bounds the precomputed weighted order (weights are scaled down beyond it).
const maxSchedule = 4096

// smoothSchedule precomputes one cycle of smooth weighted round robin
// (each step: add every weight to its running total, pick the largest,
// subtract the sum from it), so that picking is an atomic counter and a
// table lookup, with no lock.
func smoothSchedule(weights []int) []uint8 {
	w := make([]int, len(weights))
	g := 0
	for i, x := range weights {
		w[i] = max(x, 1)
		g = gcd(g, w[i])
	}
	sum := 0
	for i := range w {
		w[i] /= g
		sum += w[i]
	}
	if sum > maxSchedule {
		scale := float64(maxSchedule) / float64(sum)
		sum = 0
		for i := range w {
			w[i] = max(1, int(math.Round(float64(w[i])*scale)))
			sum += w[i]
		}
	}
	cur := make([]int, len(w))
	out := make([]uint8, sum)
	for step := range out {
		best := 0
		for i := range w {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= sum
		out[step] = uint8(best)
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Pick chooses a credential position not in tried (nor ever in never),
// for a request without an affinity key. See PickFor.
func (p *Pool) Pick(now time.Time, tried, never Tried) (pos int, trial bool, ok bool) {
	return p.PickFor(now, tried, never, 0)
}

// PickFor chooses a credential position not in tried (nor ever in never).
// affinity (0: none) is the request's conversation key; CacheAffinity
// pools send equal keys to the same credential while it is usable. trial is true when the
// pick is a half-open probe (the caller must Report its outcome). When
// every credential is out of rotation it still offers the least-bad one
// (the cool-down that ends first) rather than failing closed; ok is false
// only when no enabled credential is left to try.
func (p *Pool) PickFor(now time.Time, tried, never Tried, affinity uint64) (pos int, trial bool, ok bool) {
	tried |= never
	ns := now.UnixNano()
	switch p.strategy {
	case CacheAffinity:
		if affinity != 0 {
			pos, trial = p.pickAffine(ns, tried, affinity)
		} else {
			pos, trial = p.pickBest(ns, tried)
		}
	case HealthBest:
		pos, trial = p.pickBest(ns, tried)
	case Weighted:
		pos, trial = p.pickWeighted(ns, tried)
	default:
		pos, trial = p.pickRoundRobin(ns, tried)
	}
	if pos >= 0 {
		p.creds[pos].rpm.Add(ns, 1)
		return pos, trial, true
	}
	pos = p.leastBad(tried, never)
	if pos < 0 {
		return -1, false, false
	}
	c := p.creds[pos]
	c.rpm.Add(ns, 1)
	// Only a credential out of rotation is probed; a healthy one that is
	// merely over its own rpm is an ordinary pick.
	return pos, State(c.state.Load()) != Healthy && c.trial.CompareAndSwap(false, true), true
}

func (p *Pool) pickRoundRobin(now int64, tried Tried) (int, bool) {
	n := len(p.creds)
	start := int(p.next.Add(1) % uint64(n))
	for k := range n {
		i := (start + k) % n
		if tried.Has(i) {
			continue
		}
		if ok, trial := p.creds[i].usable(now); ok {
			p.skip(k)
			return i, trial
		}
	}
	return -1, false
}

// skip moves the rotation past the k positions a pick passed over, so that
// the next pick starts after the one chosen: the turns of a credential out
// of rotation are shared by the others instead of all going to the next one.
func (p *Pool) skip(k int) {
	if k > 0 {
		p.next.Add(uint64(k))
	}
}

func (p *Pool) pickWeighted(now int64, tried Tried) (int, bool) {
	n := len(p.schedule)
	start := int(p.next.Add(1) % uint64(n))
	var seen Tried
	for k := range n {
		i := int(p.schedule[(start+k)%n])
		if tried.Has(i) || seen.Has(i) {
			continue
		}
		seen.Add(i)
		if ok, trial := p.creds[i].usable(now); ok {
			p.skip(k)
			return i, trial
		}
	}
	return -1, false
}

// pickBest prefers the highest recent success rate; rates within two
// points of each other count as equal, and then the most room left in the
// upstream's quota windows wins (within five points, equal), then the lower
// latency (within 20 %, equal again); equals take turns, so that a
// credential's figures keep being refreshed. A credential out of rotation
// whose half-open trial is due gets it first: its figures are those that
// took it out, and would otherwise never let it back.
func (p *Pool) pickBest(now int64, tried Tried) (int, bool) {
	n := len(p.creds)
	start := int(p.next.Add(1) % uint64(n))
	best, bestK := -1, 0
	var bestOK, bestRoom, bestLat float64
	for k := range n {
		i := (start + k) % n
		if tried.Has(i) {
			continue
		}
		c := p.creds[i]
		switch st := State(c.state.Load()); {
		case st == Disabled, st == Broken, st == Healthy && (!c.rpmOK(now) || c.exhausted(now)):
			continue
		case st != Healthy:
			if now >= c.until.Load() && !c.exhausted(now) && c.trial.CompareAndSwap(false, true) {
				p.skip(k)
				return i, true
			}
			continue
		}
		okRate := math.Float64frombits(c.okEWMA.Load())
		room := c.Room(now)
		lat := math.Float64frombits(c.latEWMA.Load())
		if best < 0 || okRate > bestOK+0.02 || (okRate >= bestOK-0.02 &&
			(room > bestRoom+0.05 || (room >= bestRoom-0.05 && lat < bestLat*0.8))) {
			best, bestK, bestOK, bestRoom, bestLat = i, k, okRate, room, lat
		}
	}
	if best >= 0 {
		p.skip(bestK)
	}
	return best, false
}

// leastBad is the enabled credential, not yet tried, whose cool-down (or
// used-up quota window) ends first; if every one was tried, the same among all but those in never.
func (p *Pool) leastBad(tried, never Tried) int {
	for _, skip := range []Tried{tried, never} {
		best := -1
		var bestUntil int64
		for i, c := range p.creds {
			if skip.Has(i) {
				continue
			}
			st := State(c.state.Load())
			if st == Disabled || st == Broken {
				continue
			}
			u := c.until.Load()
			if st == Healthy {
				u = 0 // over its rpm only: better than any cooling one
			}
			u = max(u, c.quotaUntil.Load()) // a used-up quota window: back at its reset
			if best < 0 || u < bestUntil {
				best, bestUntil = i, u
			}
		}
		if best >= 0 {
			return best
		}
	}
	return -1
}
