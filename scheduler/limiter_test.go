package scheduler

import (
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyStateConcurrencyLimit(t *testing.T) {
	var s KeyState
	for i := range 3 {
		if !s.Acquire(3) {
			t.Fatalf("request %d of max 3 refused", i+1)
		}
	}
	if s.Acquire(3) {
		t.Fatal("a 4th concurrent request admitted with max 3")
	}
	if s.InFlight() != 3 {
		t.Fatalf("InFlight = %d, want 3", s.InFlight())
	}
	s.Release()
	if !s.Acquire(3) {
		t.Fatal("a slot released but the next request refused")
	}
	for range 3 {
		s.Release()
	}
	var u KeyState
	for range 1000 {
		if !u.Acquire(0) {
			t.Fatal("max 0 (unlimited) refused")
		}
	}
	if u.InFlight() != 1000 {
		t.Fatalf("unlimited: InFlight = %d, want 1000 (counted for display)", u.InFlight())
	}
}

func TestKeyStateConcurrencyLimitUnderContention(t *testing.T) {
	const max, goroutines, each = 3, 32, 200
	var s KeyState
	var held, peak, granted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			<-start
			for range each {
				if !s.Acquire(max) {
					runtime.Gosched()
					continue
				}
				granted.Add(1)
				n := held.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				runtime.Gosched() // hold the slot a moment
				held.Add(-1)
				s.Release()
			}
		})
	}
	close(start)
	wg.Wait()
	if p := peak.Load(); p > max {
		t.Fatalf("%d requests held slots at once with max %d", p, max)
	}
	if granted.Load() == 0 {
		t.Fatal("no request ever got a slot")
	}
	if s.InFlight() != 0 {
		t.Fatalf("InFlight = %d after every slot was released", s.InFlight())
	}
}

func TestKeyStateDailyCountersResetAtUTCMidnight(t *testing.T) {
	var s KeyState
	evening := time.Date(2025, 3, 10, 23, 0, 0, 0, time.UTC)
	s.Charge(evening, 100, 0.25)
	if e := s.TPM.Estimate(evening.Add(30 * time.Second).UnixNano()); e != 100 {
		t.Fatalf("tokens per minute = %.0f, want 100 (Charge feeds the minute too)", e)
	}
	s.Charge(evening.Add(59*time.Minute+59*time.Second), 50, 0.5)
	if tok, cost := s.Daily(evening.Add(59*time.Minute + 59*time.Second)); tok != 150 || math.Abs(cost-0.75) > 1e-12 {
		t.Fatalf("Daily before midnight = %d, $%.4f; want 150, $0.75", tok, cost)
	}
	midnight := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
	if tok, cost := s.Daily(midnight); tok != 0 || cost != 0 {
		t.Fatalf("Daily at UTC midnight = %d, $%.4f; want a fresh day", tok, cost)
	}
	s.Charge(midnight.Add(time.Hour), 7, 0.01)
	if tok, cost := s.Daily(midnight.Add(2 * time.Hour)); tok != 7 || math.Abs(cost-0.01) > 1e-12 {
		t.Fatalf("Daily on the new day = %d, $%.4f; want 7, $0.01", tok, cost)
	}
}

func TestKeyStateDayIsUTCWhateverTheServerZone(t *testing.T) {
	pst := time.FixedZone("PST", -8*3600)
	var s KeyState
	s.Charge(time.Date(2025, 3, 10, 15, 0, 0, 0, pst), 100, 1) // 23:00 UTC
	// 16:30 local is still March 10th locally but already March 11th in UTC.
	if tok, cost := s.Daily(time.Date(2025, 3, 10, 16, 30, 0, 0, pst)); tok != 0 || cost != 0 {
		t.Fatalf("Daily after UTC midnight (16:30 PST) = %d, $%.2f; want a fresh day", tok, cost)
	}
}

func TestKeyStateConcurrentChargesAddUp(t *testing.T) {
	var s KeyState
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 {
				s.Charge(now, 10, 0.5)
			}
		})
	}
	wg.Wait()
	if tok, cost := s.Daily(now); tok != 16000 || cost != 800 {
		t.Fatalf("16×100 charges of 10 tokens, $0.50 = %d, $%.2f; want 16000, $800", tok, cost)
	}
}

func TestKeyStateSeed(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

	var fresh KeyState
	fresh.Seed(now, 5000, 2.5)
	if tok, cost := fresh.Daily(now); tok != 5000 || cost != 2.5 {
		t.Fatalf("seeded from the roll-ups: %d, $%.2f; want 5000, $2.50", tok, cost)
	}
	fresh.Charge(now, 10, 0.1)
	if tok, _ := fresh.Daily(now); tok != 5010 {
		t.Fatalf("charge after seed: %d tokens, want 5010", tok)
	}

	var busy KeyState
	busy.Charge(now, 10, 0.1)
	busy.Seed(now, 5000, 2.5) // its own figures for today win
	if tok, cost := busy.Daily(now); tok != 10 || math.Abs(cost-0.1) > 1e-12 {
		t.Fatalf("seed over today's own figures: %d, $%.2f; want 10, $0.10 untouched", tok, cost)
	}

	var yesterday KeyState
	yesterday.Charge(now.Add(-24*time.Hour), 10, 0.1)
	yesterday.Seed(now, 5000, 2.5) // yesterday's figures are not today's
	if tok, cost := yesterday.Daily(now); tok != 5000 || cost != 2.5 {
		t.Fatalf("seed after a day change: %d, $%.2f; want 5000, $2.50", tok, cost)
	}
}

func TestUntilTomorrow(t *testing.T) {
	pst := time.FixedZone("PST", -8*3600)
	for _, tc := range []struct {
		now  time.Time
		want time.Duration
	}{
		{time.Date(2025, 3, 10, 23, 0, 0, 0, time.UTC), time.Hour},
		{time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), 24 * time.Hour},
		{time.Date(2025, 3, 10, 12, 30, 15, 0, time.UTC), 11*time.Hour + 29*time.Minute + 45*time.Second},
		{time.Date(2025, 3, 10, 23, 59, 59, 500e6, time.UTC), time.Second}, // never under a second
		{time.Date(2025, 3, 10, 15, 0, 0, 0, pst), time.Hour},              // 23:00 UTC
	} {
		if got := UntilTomorrow(tc.now); got != tc.want {
			t.Errorf("UntilTomorrow(%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
}

func TestKeyStatesGetKeepsOneStatePerKey(t *testing.T) {
	k := NewKeyStates(1000)
	a := k.Get("key-a", t0)
	a.Charge(t0, 42, 0)
	if k.Get("key-a", t0) != a || k.Peek("key-a") != a {
		t.Fatal("Get returned another state for the same key")
	}
	if k.Get("key-b", t0) == a {
		t.Fatal("two keys share one state")
	}
	if k.Peek("key-c") != nil || k.Len() != 2 {
		t.Fatalf("Peek created a state (Len %d)", k.Len())
	}

	// Concurrent requests of the same keys share their limiter state.
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				s := k.Get(fmt.Sprintf("key-%d", (g+i)%8), t0)
				if s.Acquire(0) {
					s.Release()
				}
			}
		})
	}
	wg.Wait()
	if k.Get("key-a", t0) != a || k.Len() != 2+8 {
		t.Fatalf("after concurrent use: Len %d, key-a kept %v", k.Len(), k.Get("key-a", t0) == a)
	}
}

func TestKeyStatesIsABoundedLRU(t *testing.T) {
	for _, capacity := range []int{640, 100} {
		k := NewKeyStates(capacity)
		perShard := (capacity + shardCount - 1) / shardCount
		perShard += perShard / 4 // the headroom NewKeyStates gives each shard
		rounded := perShard * shardCount
		shardOf := func(id string) int { return int(maphash.String(k.seed, id) % shardCount) }
		used := make([][]string, shardCount) // per shard, least recently used first
		touch := func(id string) {
			sh := shardOf(id)
			used[sh] = append(slices.DeleteFunc(used[sh], func(s string) bool { return s == id }), id)
		}

		hot := k.Get("hot", t0)
		hot.Charge(t0, 123, 0)
		touch("hot")
		for i := range 10 * capacity {
			id := fmt.Sprintf("key-%d", i)
			k.Get(id, t0)
			touch(id)
			k.Get("hot", t0) // a busy key, used all along
			touch("hot")
		}
		if n := k.Len(); n > rounded || n < rounded/2 {
			t.Fatalf("capacity %d: %d keys tracked after %d, want at most %d (1.25 × capacity)", capacity, n, 10*capacity+1, rounded)
		}
		if k.Peek("hot") != hot {
			t.Fatalf("capacity %d: the busy key lost its state", capacity)
		}
		if tok, _ := k.Get("hot", t0).Daily(t0); tok != 123 {
			t.Fatalf("capacity %d: the busy key's day shows %d tokens", capacity, tok)
		}
		// In each shard, exactly the most recently used keys are kept.
		per := perShard
		for sh, ids := range used {
			for i, id := range ids {
				kept := k.Peek(id) != nil
				if want := i >= len(ids)-per; kept != want {
					t.Fatalf("capacity %d, shard %d: key %s (used %d of %d) kept %v, want %v", capacity, sh, id, i+1, len(ids), kept, want)
				}
			}
		}
	}
}

func TestKeyStatesSeedsNewAndEvictedKeys(t *testing.T) {
	k := NewKeyStates(1) // one key per shard
	var mu sync.Mutex
	calls := map[string]int{}
	k.SeedFunc = func(id string) (int64, float64) {
		mu.Lock()
		defer mu.Unlock()
		calls[id]++
		return 1000, 1.5 // today's roll-ups for the key
	}
	s := k.Get("key-a", t0)
	if tok, cost := s.Daily(t0); tok != 1000 || cost != 1.5 || calls["key-a"] != 1 {
		t.Fatalf("new key: Daily %d, $%.2f after %d seed calls; want the roll-ups, 1 call", tok, cost, calls["key-a"])
	}
	s.Charge(t0, 10, 0)
	k.Get("key-a", t0)
	if calls["key-a"] != 1 {
		t.Fatal("SeedFunc called again for a tracked key")
	}

	// Push key-a out of its shard with another key of the same shard.
	shard := maphash.String(k.seed, "key-a") % shardCount
	var other string
	for i := 0; other == ""; i++ {
		if id := fmt.Sprint("other-", i); maphash.String(k.seed, id)%shardCount == shard {
			other = id
		}
	}
	k.Get(other, t0)
	if k.Peek("key-a") != nil {
		t.Fatal("key-a not evicted from a full shard")
	}
	s2 := k.Get("key-a", t0)
	if s2 == s || calls["key-a"] != 2 {
		t.Fatalf("evicted key-a came back: same state %v, %d seed calls; want a fresh state seeded again", s2 == s, calls["key-a"])
	}
	if tok, _ := s2.Daily(t0); tok != 1000 {
		t.Fatalf("evicted key-a came back with %d tokens for today, want the roll-ups' 1000", tok)
	}
}
