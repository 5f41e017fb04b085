package scheduler

import (
	"container/list"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// KeyState is the in-memory limiter state of one gateway key.
type KeyState struct {
	id       string
	RPM      Window // requests
	TPM      Window // tokens, charged when a response's usage is known
	inflight atomic.Int64

	// Daily counters change once per response (not per request check) and
	// must roll over at midnight together: a small lock of this key's own.
	dayMu     sync.Mutex
	day       int64 // UTC day index the daily counters belong to
	dayTokens int64
	dayCost   float64 // USD
}

// Acquire takes one of max concurrent slots (max ≤ 0: unlimited).
func (s *KeyState) Acquire(max int64) bool {
	if max <= 0 {
		s.inflight.Add(1)
		return true
	}
	for {
		n := s.inflight.Load()
		if n >= max {
			return false
		}
		if s.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release gives back a slot taken by Acquire.
func (s *KeyState) Release() { s.inflight.Add(-1) }

// InFlight is the number of requests holding a slot.
func (s *KeyState) InFlight() int64 { return s.inflight.Load() }

func dayIndex(now time.Time) int64 { return now.UTC().Unix() / 86400 }

// rollDay resets the daily counters when a new UTC day began; dayMu held.
func (s *KeyState) rollDay(now time.Time) {
	if d := dayIndex(now); d > s.day {
		s.day, s.dayTokens, s.dayCost = d, 0, 0
	}
}

// Daily returns today's (UTC) tokens and cost so far.
func (s *KeyState) Daily(now time.Time) (tokens int64, cost float64) {
	s.dayMu.Lock()
	defer s.dayMu.Unlock()
	s.rollDay(now)
	return s.dayTokens, s.dayCost
}

// Charge adds a response's tokens and cost to the minute and the day.
func (s *KeyState) Charge(now time.Time, tokens int64, cost float64) {
	s.TPM.Add(now.UnixNano(), tokens)
	s.dayMu.Lock()
	s.rollDay(now)
	s.dayTokens += tokens
	s.dayCost += cost
	s.dayMu.Unlock()
}

// Seed sets today's counters from persisted roll-ups (at start-up), unless
// the key already has figures of its own for today.
func (s *KeyState) Seed(now time.Time, tokens int64, cost float64) {
	s.dayMu.Lock()
	defer s.dayMu.Unlock()
	s.rollDay(now)
	if s.dayTokens == 0 && s.dayCost == 0 {
		s.dayTokens, s.dayCost = tokens, cost
	}
}

// UntilTomorrow is the time left in the current UTC day.
func UntilTomorrow(now time.Time) time.Duration {
	next := time.Unix((dayIndex(now)+1)*86400, 0)
	return max(next.Sub(now), time.Second)
}

// KeyStates holds the limiter state of recently used keys: a sharded LRU,
// so memory stays bounded whatever the number of keys and no lock is shared
// by all requests. A key evicted after long idleness restarts its minute
// windows (harmless: they had drained) and gets its daily counters back
// from the seed function.
type KeyStates struct {
	shards [shardCount]keyShard
	seed   maphash.Seed
	perCap int
	// SeedFunc, if set, supplies today's tokens and cost of a key whose
	// state is created (after start-up or eviction); it must not block.
	SeedFunc func(id string) (tokens int64, cost float64)
}

const shardCount = 64

type keyShard struct {
	mu sync.Mutex
	m  map[string]*list.Element
	ll list.List // front: most recently used
}

// NewKeyStates keeps about capacity keys (at most 1.25 × capacity).
func NewKeyStates(capacity int) *KeyStates {
	// Keys do not spread perfectly over the shards: a quarter of headroom
	// per shard keeps about capacity keys without evicting live ones early.
	per := max(1, (capacity+shardCount-1)/shardCount)
	per += per / 4
	k := &KeyStates{seed: maphash.MakeSeed(), perCap: per}
	for i := range k.shards {
		k.shards[i].m = make(map[string]*list.Element)
	}
	return k
}

// Get returns the key's state, creating it (and evicting the least recently
// used key of its shard when full).
func (k *KeyStates) Get(id string, now time.Time) *KeyState {
	sh := &k.shards[maphash.String(k.seed, id)%shardCount]
	sh.mu.Lock()
	if e, ok := sh.m[id]; ok {
		sh.ll.MoveToFront(e)
		sh.mu.Unlock()
		return e.Value.(*KeyState)
	}
	st := &KeyState{id: id}
	sh.m[id] = sh.ll.PushFront(st)
	if sh.ll.Len() > k.perCap {
		last := sh.ll.Back()
		sh.ll.Remove(last)
		delete(sh.m, last.Value.(*KeyState).id)
	}
	sh.mu.Unlock()
	if k.SeedFunc != nil {
		t, c := k.SeedFunc(id)
		st.Seed(now, t, c)
	}
	return st
}

// Peek returns the key's state if it is tracked, without creating it.
func (k *KeyStates) Peek(id string) *KeyState {
	sh := &k.shards[maphash.String(k.seed, id)%shardCount]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[id]; ok {
		return e.Value.(*KeyState)
	}
	return nil
}

// Len is the number of keys tracked.
func (k *KeyStates) Len() int {
	n := 0
	for i := range k.shards {
		k.shards[i].mu.Lock()
		n += k.shards[i].ll.Len()
		k.shards[i].mu.Unlock()
	}
	return n
}
