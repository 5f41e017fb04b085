package scheduler

import (
	"math"
	"testing"
)

// conversations are n distinct affinity keys.
func conversations(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = mix64(uint64(i) + 1)
	}
	return out
}

// placeAll picks once for every key and returns each key's position.
func placeAll(t *testing.T, p *Pool, keys []uint64) []int {
	t.Helper()
	out := make([]int, len(keys))
	for i, k := range keys {
		pos, _, ok := p.PickFor(t0, 0, 0, k)
		if !ok {
			t.Fatalf("key %d: no credential", i)
		}
		out[i] = pos
	}
	return out
}

func TestCacheAffinityKeepsAConversationOnOneCredential(t *testing.T) {
	f := newFixture(t, testHealth, 4)
	p := f.pool(CacheAffinity)
	keys := conversations(400)
	first := placeAll(t, p, keys)
	for round := range 5 {
		for i, pos := range placeAll(t, p, keys) {
			if pos != first[i] {
				t.Fatalf("round %d: conversation %d moved from %d to %d with every credential healthy", round, i, first[i], pos)
			}
		}
	}
	// and the conversations are spread over the pool, about a quarter each
	count := make([]int, 4)
	for _, pos := range first {
		count[pos]++
	}
	for i, n := range count {
		if n < 70 || n > 130 {
			t.Errorf("credential %d holds %d of 400 conversations, want about 100 (%v)", i, n, count)
		}
	}
}

func TestCacheAffinityMovesOnlyTheLostCredentialsConversations(t *testing.T) {
	f := newFixture(t, testHealth, 4)
	p := f.pool(CacheAffinity)
	keys := conversations(400)
	before := placeAll(t, p, keys)
	f.creds[1].Report(Rejected, false, 0, 0, "401") // b leaves rotation
	after := placeAll(t, p, keys)
	moved := make([]int, 4)
	for i := range keys {
		switch {
		case before[i] == 1 && after[i] == 1:
			t.Fatalf("conversation %d still sent to the credential out of rotation", i)
		case before[i] != 1 && after[i] != before[i]:
			t.Fatalf("conversation %d on healthy credential %d moved to %d", i, before[i], after[i])
		case before[i] == 1:
			moved[after[i]]++
		}
	}
	// b's conversations spread over the other three instead of piling on one
	for i, n := range moved {
		if i != 1 && n == 0 {
			t.Errorf("none of b's conversations went to credential %d: %v", i, moved)
		}
	}
	// When b is back (a new secret), its conversations return to it.
	f.h.Configure("b", true, 0, true)
	for i, pos := range placeAll(t, p, keys) {
		if pos != before[i] {
			t.Fatalf("conversation %d: at %d after b came back, was at %d before", i, pos, before[i])
		}
	}
}

func TestCacheAffinityWeightsScaleTheShareOfConversations(t *testing.T) {
	f := newFixture(t, testHealth, 3)
	p := f.pool(CacheAffinity, 1, 2, 5)
	count := make([]int, 3)
	for _, pos := range placeAll(t, p, conversations(8000)) {
		count[pos]++
	}
	for i, w := range []float64{1, 2, 5} {
		want := 8000 * w / 8
		if math.Abs(float64(count[i])-want) > 0.1*want {
			t.Errorf("weight %v: %d of 8000 conversations, want about %.0f (%v)", w, count[i], want, count)
		}
	}
}

func TestCacheAffinityRetryGoesToTheConversationsSecondChoice(t *testing.T) {
	f := newFixture(t, testHealth, 4)
	p := f.pool(CacheAffinity)
	key := conversations(1)[0]
	first, _, _ := p.PickFor(t0, 0, 0, key)
	var tried Tried
	tried.Add(first)
	second, _, _ := p.PickFor(t0, tried, 0, key)
	if second == first {
		t.Fatalf("the retry went to the credential already tried (%d)", first)
	}
	// the same second choice every time, and the one it falls to when the first is out
	for range 10 {
		if again, _, _ := p.PickFor(t0, tried, 0, key); again != second {
			t.Fatalf("second choice changed: %d then %d", second, again)
		}
	}
	f.creds[first].Report(Rejected, false, 0, 0, "401")
	if pos, _, _ := p.PickFor(t0, 0, 0, key); pos != second {
		t.Fatalf("with its first choice out, the conversation went to %d, want its second choice %d", pos, second)
	}
}

func TestCacheAffinityWithoutAKeyTakesTurns(t *testing.T) {
	f := newFixture(t, testHealth, 3)
	p := f.pool(CacheAffinity)
	if got := f.shares(p, 300); got[0] != 100 || got[1] != 100 || got[2] != 100 {
		t.Fatalf("requests without a conversation key: shares %v, want 100 each", got)
	}
}

func BenchmarkPickCacheAffinity(b *testing.B) {
	h := NewHealth(testHealth, nil)
	creds := []*Cred{h.Cred("a"), h.Cred("b"), h.Cred("c"), h.Cred("d")}
	p, _ := NewPool(CacheAffinity, creds, []int{1, 1, 1, 1})
	keys := conversations(1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.PickFor(t0, 0, 0, keys[i&1023])
	}
}

func BenchmarkPickRoundRobin(b *testing.B) {
	h := NewHealth(testHealth, nil)
	creds := []*Cred{h.Cred("a"), h.Cred("b"), h.Cred("c"), h.Cred("d")}
	p, _ := NewPool(RoundRobin, creds, []int{1, 1, 1, 1})
	b.ReportAllocs()
	for b.Loop() {
		p.PickFor(t0, 0, 0, 0)
	}
}
