package scheduler

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestParseStrategy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Strategy
		name string
	}{
		{"", RoundRobin, "round_robin"}, // a key created without --strategy
		{"round_robin", RoundRobin, "round_robin"},
		{"weighted", Weighted, "weighted"},
		{"health_best", HealthBest, "health_best"},
		{"cache_affinity", CacheAffinity, "cache_affinity"},
	} {
		got, err := ParseStrategy(tc.in)
		if err != nil || got != tc.want || got.String() != tc.name {
			t.Errorf("ParseStrategy(%q) = %v (%s), %v; want %v (%s)", tc.in, got, got, err, tc.want, tc.name)
		}
	}
	for _, bad := range []string{"random", "Weighted", "least_conn"} {
		if _, err := ParseStrategy(bad); err == nil {
			t.Errorf("ParseStrategy(%q) accepted an unknown strategy", bad)
		}
	}
}

func TestNewPoolHoldsOneToMaxPoolCredentials(t *testing.T) {
	h := NewHealth(testHealth, nil)
	var creds []*Cred
	for i := range MaxPool + 1 {
		creds = append(creds, h.Cred(name(i)))
	}
	for _, n := range []int{0, MaxPool + 1} {
		if _, err := NewPool(RoundRobin, creds[:n], nil); err == nil {
			t.Errorf("NewPool with %d credentials succeeded", n)
		}
	}
	p, err := NewPool(Weighted, creds[:MaxPool], make([]int, MaxPool))
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != MaxPool || p.Cred(MaxPool-1) != creds[MaxPool-1] || p.Strategy() != Weighted {
		t.Fatalf("pool of %d: Len %d, Strategy %s", MaxPool, p.Len(), p.Strategy())
	}
	// every one of the 64 positions (weight 0 counts as 1) takes its turn
	seen := map[int]bool{}
	for range MaxPool {
		pos, _, _ := p.Pick(t0, 0, 0)
		seen[pos] = true
	}
	if len(seen) != MaxPool {
		t.Fatalf("a pool of %d weighted credentials offered %d of them in one cycle", MaxPool, len(seen))
	}
}

func TestRoundRobinSharesEquallyAndAlternates(t *testing.T) {
	f := newFixture(t, testHealth, 3)
	p := f.pool(RoundRobin)
	last := -1
	counts := make([]int, 3)
	for i := range 3000 {
		pos, trial := f.pick(p)
		if trial {
			t.Fatal("a healthy credential was offered as a half-open trial")
		}
		if pos == last {
			t.Fatalf("pick %d: credential %s twice in a row", i, name(pos))
		}
		last = pos
		counts[pos]++
	}
	if !slices.Equal(counts, []int{1000, 1000, 1000}) {
		t.Fatalf("round_robin shares over 3000 picks = %v, want 1000 each", counts)
	}
}

// maxStreak is the longest run of one position in seq, wrapping around.
func maxStreak(seq []int, pos int) int {
	best, run := 0, 0
	for i := range 2 * len(seq) {
		if seq[i%len(seq)] == pos {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return min(best, len(seq))
}

func TestWeightedSharesFollowWeightsSmoothly(t *testing.T) {
	f := newFixture(t, testHealth, 3)
	p := f.pool(Weighted, 1, 2, 7)
	var seq []int
	counts := make([]int, 3)
	for range 1000 { // a multiple of the cycle of 10
		pos, _ := f.pick(p)
		seq = append(seq, pos)
		counts[pos]++
	}
	if !slices.Equal(counts, []int{100, 200, 700}) {
		t.Fatalf("weighted 1,2,7 shares over 1000 picks = %v, want 100/200/700", counts)
	}
	// Smooth: the weight-7 credential is interleaved with the others, never
	// a block of 7. SWRR runs it at most ceil(7/3) = 3 times in a row; the
	// lighter ones never twice.
	for pos, limit := range []int{1, 1, 3} {
		if got := maxStreak(seq, pos); got > limit {
			t.Errorf("credential %s (weight %d) ran %d times in a row, want at most %d", name(pos), []int{1, 2, 7}[pos], got, limit)
		}
	}
}

func TestWeightedScheduleIsSmoothWeightedRoundRobin(t *testing.T) {
	// Hand-computed SWRR for weights a=5, b=1, c=1 (ties go to the first):
	// a a b a c a a.
	want := []int{0, 0, 1, 0, 2, 0, 0}
	for _, w := range [][]int{{5, 1, 1}, {10, 2, 2}, {500, 100, 100}} { // common factors do not lengthen the cycle
		got := make([]int, 0, 7)
		for _, x := range smoothSchedule(w) {
			got = append(got, int(x))
		}
		if !slices.Equal(got, want) {
			t.Errorf("schedule for %v = %v, want %v (a a b a c a a)", w, got, want)
		}
	}

	// Picks follow that schedule, cycle after cycle (from wherever the
	// rotation counter starts).
	f := newFixture(t, testHealth, 3)
	p := f.pool(Weighted, 5, 1, 1)
	picks := make([]int, 21)
	for i := range picks {
		picks[i], _ = f.pick(p)
	}
	rotation := -1
	for r := range want {
		ok := true
		for i, pos := range picks {
			if pos != want[(i+r)%len(want)] {
				ok = false
				break
			}
		}
		if ok {
			rotation = r
			break
		}
	}
	if rotation < 0 {
		t.Fatalf("21 weighted picks %v do not follow the SWRR cycle %v", picks, want)
	}
}

func TestWeightedLargeWeightsKeepProportions(t *testing.T) {
	for _, weights := range [][]int{
		{1000, 1, 999},                        // sum 2000: fits, exact
		{1000, 1, 999, 997, 991, 983},         // sum 4971: scaled down to the schedule bound
		{1000, 1000, 1000, 999, 997, 1, 2, 3}, // sum 5002: scaled, tiny weights kept at least 1
	} {
		f := newFixture(t, testHealth, len(weights))
		p := f.pool(Weighted, weights...)
		if len(p.schedule) > maxSchedule+len(weights) {
			t.Fatalf("weights %v: schedule of %d entries, bound %d", weights, len(p.schedule), maxSchedule)
		}
		n := 2 * len(p.schedule)
		counts := f.shares(p, n)
		sum := 0
		for _, w := range weights {
			sum += w
		}
		for i, w := range weights {
			want, got := float64(w)/float64(sum), float64(counts[i])/float64(n)
			if math.Abs(got-want) > 0.01 {
				t.Errorf("weights %v: credential %s got %.4f of the traffic, want %.4f ± 0.01", weights, name(i), got, want)
			}
			if counts[i] == 0 {
				t.Errorf("weights %v: credential %s (weight %d) never picked", weights, name(i), w)
			}
		}
	}
}

func TestHealthBestPrefersHigherSuccessRateThenLowerLatency(t *testing.T) {
	f := newFixture(t, testHealth, 3)
	p := f.pool(HealthBest)
	a, b, c := f.creds[0], f.creds[1], f.creds[2]
	// a: fast but failing now and then (2 failures: under the threshold).
	// b: slow and reliable. c: reliable and fast.
	fail(a, 2)
	a.Report(Success, false, 50*time.Millisecond, 0, "")
	b.Report(Success, false, 900*time.Millisecond, 0, "")
	c.Report(Success, false, 200*time.Millisecond, 0, "")
	if a.State() != Healthy {
		t.Fatalf("2 failures under a threshold of 3 took a out: %s", a.State())
	}
	if counts := f.shares(p, 300); counts[2] != 300 {
		t.Fatalf("health_best shares a/b/c = %v: want every pick on c (reliable beats fast, then fast beats slow)", counts)
	}
}

func TestHealthBestFavoursTheFasterOfTwoReliableCredentials(t *testing.T) {
	// A credential with a single slow response must not look faster than
	// one with many fast ones.
	f := newFixture(t, testHealth, 2)
	p := f.pool(HealthBest)
	a, b := f.creds[0], f.creds[1]
	for range 50 {
		a.Report(Success, false, 100*time.Millisecond, 0, "")
	}
	b.Report(Success, false, 400*time.Millisecond, 0, "")
	if got := b.Status().LatencyMS; math.Abs(got-400) > 1 {
		t.Errorf("after one 400 ms response, b's latency shows %.1f ms", got)
	}
	if counts := f.shares(p, 100); counts[0] != 100 {
		t.Fatalf("health_best sent %v to a (100 ms) / b (400 ms): want all to a", counts)
	}
}

func TestHealthBestTakesTurnsAmongEquals(t *testing.T) {
	f := newFixture(t, testHealth, 4)
	p := f.pool(HealthBest)
	for _, c := range f.creds {
		c.Report(Success, false, 100*time.Millisecond, 0, "")
	}
	// within 20 % of each other: equal
	f.creds[3].Report(Success, false, 110*time.Millisecond, 0, "")
	if counts := f.shares(p, 400); !slices.Equal(counts, []int{100, 100, 100, 100}) {
		t.Fatalf("four equally good credentials got %v of 400 picks, want 100 each", counts)
	}

	// One credential worse than the others: it drops out, and the rest
	// still share evenly (its turns are not inherited by its neighbour).
	fail(f.creds[0], 2)
	if counts := f.shares(p, 300); !slices.Equal(counts, []int{0, 100, 100, 100}) {
		t.Fatalf("with a degraded, picks = %v, want 0/100/100/100", counts)
	}
}

func TestTrafficOfACredentialOutOfRotationIsSharedFairly(t *testing.T) {
	for _, tc := range []struct {
		strategy Strategy
		weights  []int
		want     []int // over 300 picks with c out
	}{
		{RoundRobin, nil, []int{150, 150, 0}},
		{Weighted, []int{1, 2, 7}, []int{100, 200, 0}},
		{HealthBest, nil, []int{150, 150, 0}},
	} {
		t.Run(tc.strategy.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 3)
			p := f.pool(tc.strategy, tc.weights...)
			f.creds[2].Report(Rejected, false, 0, 0, "401")
			if got := f.shares(p, 300); !slices.Equal(got, tc.want) {
				t.Fatalf("with c out, shares = %v, want %v", got, tc.want)
			}
		})
	}
}

var strategies = []Strategy{RoundRobin, Weighted, HealthBest, CacheAffinity}

func TestPickNeverRepeatsATriedCredentialWhileAnotherIsUsable(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 4)
			p := f.pool(s, 1, 2, 3, 4)
			for tried := Tried(0); tried < 1<<4-1; tried++ {
				for range 20 {
					pos, trial, ok := p.Pick(t0, tried, 0)
					if !ok || tried.Has(pos) || trial {
						t.Fatalf("tried %04b: Pick = %d, trial %v, ok %v; want an untried healthy position", tried, pos, trial, ok)
					}
				}
			}
		})
	}
}

func TestPickPrefersAnUntriedUsableCredentialOverOutOrTriedOnes(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 4)
			p := f.pool(s)
			f.creds[1].Report(RateLimited, false, 0, time.Minute, "429") // b out
			f.h.Configure("d", false, 0, false)                          // d disabled
			var tried Tried
			tried.Add(0) // a was tried by this request
			for range 20 {
				if pos, trial, ok := p.Pick(f.now(), tried, 0); pos != 2 || trial || !ok {
					t.Fatalf("Pick = %d (trial %v, ok %v), want c: the only untried usable credential", pos, trial, ok)
				}
			}
		})
	}
}

func TestPickWithEveryCredentialTriedRetriesOneNotInNever(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 3)
			p := f.pool(s)
			all := Tried(0b111)
			var never Tried
			never.Add(0)
			never.Add(2)
			for range 10 {
				if pos, _, ok := p.Pick(t0, all, never); !ok || pos != 1 {
					t.Fatalf("all tried, a and c never: Pick = %d, ok %v; want b", pos, ok)
				}
			}
			if pos, _, ok := p.Pick(t0, all, 0); !ok || pos < 0 || pos > 2 {
				t.Fatalf("all tried, none excluded: Pick = %d, ok %v; want a credential again", pos, ok)
			}
		})
	}
}

func TestPickFailsOnlyWhenNoEnabledCredentialIsLeft(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 3)
			p := f.pool(s)
			if pos, trial, ok := p.Pick(t0, 0, 0b111); ok {
				t.Fatalf("every credential in never: Pick = %d (trial %v), want ok=false", pos, trial)
			}
			f.h.Configure("a", false, 0, false)
			f.h.Configure("b", false, 0, false)
			if pos, _, ok := p.Pick(t0, 0, 0b100); ok {
				t.Fatalf("a, b disabled and c never: Pick = %d, want ok=false", pos)
			}
			f.h.Configure("c", false, 0, false)
			if pos, _, ok := p.Pick(t0, 0, 0); ok {
				t.Fatalf("all disabled: Pick = %d, want ok=false", pos)
			}
		})
	}
}

func TestPoolWithEveryCredentialOutOffersTheOneBackSoonest(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 4)
			p := f.pool(s)
			a, b, c := f.creds[0], f.creds[1], f.creds[2]
			a.Report(RateLimited, false, 0, 30*time.Second, "429") // back at +30s
			b.Report(Rejected, false, 0, 0, "401")                 // back at +10s (the cool-down)
			c.Report(RateLimited, false, 0, 20*time.Second, "429") // back at +20s
			f.h.Configure("d", false, 0, false)                    // never
			f.clock.Advance(time.Second)

			pos, trial, ok := p.Pick(f.now(), 0, 0)
			if !ok || pos != 1 || !trial {
				t.Fatalf("all out: Pick = %d, trial %v, ok %v; want b (back first) as the half-open trial", pos, trial, ok)
			}
			// A second request meanwhile is not refused either; b's trial is taken.
			if pos, trial, ok := p.Pick(f.now(), 0, 0); !ok || pos != 1 || trial {
				t.Fatalf("second request: Pick = %d, trial %v, ok %v; want b without the trial", pos, trial, ok)
			}
			// A retry of the first request goes to the next least bad: c.
			if pos, _, ok := p.Pick(f.now(), 0b0010, 0); !ok || pos != 2 {
				t.Fatalf("retry after b: Pick = %d, ok %v; want c (back at +20s)", pos, ok)
			}
			// b answers: back in rotation.
			b.Report(Success, true, 0, 0, "")
			if b.State() != Healthy {
				t.Fatalf("b after its trial succeeded: %s", b.State())
			}
			if pos, trial, ok := p.Pick(f.now(), 0, 0); !ok || pos != 1 || trial {
				t.Fatalf("after b recovered: Pick = %d, trial %v; want b, a normal pick", pos, trial)
			}
		})
	}
}

func TestCredentialAtItsRPMLimitIsSkipped(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 2)
			f.h.Configure("a", true, 5, false) // a: 5 requests per minute of its own
			p := f.pool(s)
			counts := f.shares(p, 40)
			if counts[0] != 5 || counts[1] != 35 {
				t.Fatalf("a (rpm 5) / b got %v of 40 picks in one instant, want 5 / 35", counts)
			}
			// Two minutes later a's minute has drained.
			f.clock.Advance(2 * time.Minute)
			if counts := f.shares(p, 40); counts[0] == 0 {
				t.Fatalf("two minutes later a still gets nothing: %v", counts)
			}
		})
	}
}

func TestCredentialsAllAtTheirRPMLimitStillServeNormally(t *testing.T) {
	f := newFixture(t, testHealth, 2)
	f.h.Configure("a", true, 1, false)
	f.h.Configure("b", true, 1, false)
	p := f.pool(RoundRobin)
	f.shares(p, 2) // both at their limit
	pos, trial, ok := p.Pick(f.now(), 0, 0)
	if !ok {
		t.Fatal("a pool whose credentials are only over their own rpm refused the request")
	}
	if trial {
		t.Fatalf("healthy credential %s, only over its rpm, offered as a half-open trial", name(pos))
	}
	// It is still a healthy credential: one 5xx does not take it out.
	p.Cred(pos).Report(Failure, trial, 0, 0, "502")
	if st := p.Cred(pos).State(); st != Healthy {
		t.Fatalf("one failure (threshold 3) took %s out: %s", name(pos), st)
	}
}
