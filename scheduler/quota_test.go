package scheduler

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// counted is a reading of a counted window: remaining of limit, resetting in d.
func counted(remaining, limit int64, reset time.Time) QuotaReading {
	return QuotaReading{Has: HasLimit | HasRemaining | HasReset, Limit: limit, Remaining: remaining, Reset: reset.UnixNano()}
}

func observe(c *Cred, now time.Time, w QuotaWindow, r QuotaReading) {
	var q Quota
	*q.Reading(w) = r
	c.ObserveQuota(now, &q)
}

// A used-up window takes the credential out of every strategy's rotation
// at once, and it comes back by itself at the reset: no 429, no trial.
func TestExhaustedWindowLeavesRotationUntilReset(t *testing.T) {
	for _, s := range []Strategy{RoundRobin, Weighted, HealthBest} {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 2)
			p := f.pool(s)
			a := f.creds[0]
			reset := t0.Add(2 * time.Second)
			observe(a, t0, WindowRequests, counted(0, 50, reset))
			ch := f.wantChange("a", Healthy, Exhausted, reset)
			if ch.Reason != "requests window: 0 of 50 left" {
				t.Errorf("reason %q does not say which window", ch.Reason)
			}
			st := a.Status()
			if st.State != "quota_exhausted" || !st.Until.Equal(reset) || st.Reason != ch.Reason {
				t.Fatalf("status %+v", st)
			}
			if a.State() != Healthy {
				t.Fatalf("its own state changed to %s: the quota overlays it", a.State())
			}
			f.clock.Set(reset.Add(-time.Millisecond))
			if counts := f.shares(p, 20); counts[0] != 0 {
				t.Fatalf("picked %d times before its window reset", counts[0])
			}
			f.clock.Set(reset)
			var trials int
			counts := make([]int, 2)
			for range 20 {
				pos, trial := f.pick(p)
				counts[pos]++
				if trial {
					trials++
				}
				p.Cred(pos).Report(Success, trial, 0, 0, "")
			}
			if counts[0] == 0 || trials != 0 {
				t.Fatalf("after the reset: picks %v, %d trials; want a back in rotation without a trial", counts, trials)
			}
			f.wantChange("a", Exhausted, Healthy, time.Time{})
			if st := a.Status(); st.State != "healthy" || !st.Until.IsZero() || st.Reason != "" {
				t.Fatalf("status after the reset %+v", st)
			}
		})
	}
}

// A later answer that shows room brings the credential back before the
// reset; one that still shows no room keeps it out, with the later reset.
func TestLaterAnswersMoveTheExhaustion(t *testing.T) {
	f := newFixture(t, testHealth, 1)
	a := f.creds[0]
	observe(a, t0, WindowTokens, counted(0, 1000, t0.Add(time.Minute)))
	f.wantChange("a", Healthy, Exhausted, t0.Add(time.Minute))
	observe(a, t0, WindowTokens, counted(0, 1000, t0.Add(2*time.Minute)))
	f.wantNoChange()
	if st := a.Status(); !st.Until.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("until %v, want the later reset", st.Until)
	}
	// Another window with room says nothing about the used-up one.
	observe(a, t0, WindowRequests, counted(40, 50, t0.Add(time.Second)))
	if a.Status().State != "quota_exhausted" {
		t.Fatal("room in another window ended the exhaustion")
	}
	observe(a, t0.Add(time.Second), WindowTokens, counted(500, 1000, t0.Add(time.Minute)))
	f.wantChange("a", Exhausted, Healthy, time.Time{})
	if ok, _ := a.usable(t0.Add(time.Second).UnixNano()); !ok {
		t.Fatal("not usable once its window has room again")
	}
}

func TestWindowReadings(t *testing.T) {
	reset := t0.Add(30 * time.Second)
	cases := []struct {
		name      string
		w         QuotaWindow
		r         QuotaReading
		kept      bool
		exhausted bool
		room      float64
		until     time.Time // the reset kept (capped)
	}{
		{"room", WindowRequests, counted(40, 50, reset), true, false, 0.8, reset},
		{"none left", WindowRequests, counted(0, 50, reset), true, true, 0, reset},
		{"no limit, some left", WindowTokens, QuotaReading{Has: HasRemaining | HasReset, Remaining: 7, Reset: reset.UnixNano()}, true, false, 1, reset},
		{"no limit, none left", WindowTokens, QuotaReading{Has: HasRemaining | HasReset, Reset: reset.UnixNano()}, true, true, 0, reset},
		{"more left than the limit (rounded)", WindowTokens, counted(30400, 30000, reset), true, false, 1, reset},
		{"limit 0", WindowTokens, counted(5, 0, reset), true, false, 1, reset},
		{"no reset", WindowRequests, QuotaReading{Has: HasLimit | HasRemaining, Limit: 50}, false, false, 1, time.Time{}},
		{"no remaining", WindowRequests, QuotaReading{Has: HasLimit | HasReset, Limit: 50, Reset: reset.UnixNano()}, false, false, 1, time.Time{}},
		{"reset in the past", WindowRequests, counted(0, 50, t0.Add(-time.Second)), false, false, 1, time.Time{}},
		{"reset now", WindowRequests, counted(0, 50, t0), false, false, 1, time.Time{}},
		{"negative remaining", WindowRequests, counted(-1, 50, reset), false, false, 1, time.Time{}},
		{"absurd reset capped at a day", WindowRequests, counted(0, 50, t0.Add(1000*time.Hour)), true, true, 0, t0.Add(24 * time.Hour)},
		{"5h window", WindowUnified5h, QuotaReading{Has: HasUtilization | HasStatus | HasReset, Utilization: 0.42, Status: StatusAllowed, Reset: reset.UnixNano()}, true, false, 0.58, reset},
		{"5h window used up", WindowUnified5h, QuotaReading{Has: HasUtilization | HasReset, Utilization: 1, Reset: reset.UnixNano()}, true, true, 0, reset},
		{"5h window over", WindowUnified5h, QuotaReading{Has: HasUtilization | HasReset, Utilization: 1.02, Reset: reset.UnixNano()}, true, true, 0, reset},
		{"5h window rejected", WindowUnified5h, QuotaReading{Has: HasStatus | HasReset, Status: StatusRejected, Reset: reset.UnixNano()}, true, true, 0, reset},
		{"5h window allowed, no utilization", WindowUnified5h, QuotaReading{Has: HasStatus | HasReset, Status: StatusAllowed, Reset: reset.UnixNano()}, true, false, 1, reset},
		{"5h window without its reset", WindowUnified5h, QuotaReading{Has: HasUtilization, Utilization: 1}, false, false, 1, time.Time{}},
		{"5h window NaN", WindowUnified5h, QuotaReading{Has: HasUtilization | HasReset, Utilization: math.NaN(), Reset: reset.UnixNano()}, false, false, 1, time.Time{}},
		{"5h window capped at a day", WindowUnified5h, QuotaReading{Has: HasUtilization | HasReset, Utilization: 1, Reset: t0.Add(30 * 24 * time.Hour).UnixNano()}, true, true, 0, t0.Add(24 * time.Hour)},
		{"weekly window capped at 7 days", WindowUnified7d, QuotaReading{Has: HasUtilization | HasReset, Utilization: 1, Reset: t0.Add(30 * 24 * time.Hour).UnixNano()}, true, true, 0, t0.Add(7 * 24 * time.Hour)},
		{"unified rejected", WindowUnified, QuotaReading{Has: HasStatus | HasReset, Status: StatusRejected, Reset: reset.UnixNano()}, true, true, 0, reset},
		{"unified warning", WindowUnified, QuotaReading{Has: HasStatus | HasReset, Status: StatusWarning, Reset: reset.UnixNano()}, true, false, 1, reset},
		{"unified without status", WindowUnified, QuotaReading{Has: HasReset, Reset: reset.UnixNano()}, false, false, 1, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, testHealth, 1)
			a := f.creds[0]
			observe(a, t0, c.w, c.r)
			st := a.Status()
			if kept := len(st.Quota) == 1; kept != c.kept {
				t.Fatalf("kept %v, want %v: %+v", kept, c.kept, st.Quota)
			}
			if got := st.State == "quota_exhausted"; got != c.exhausted {
				t.Fatalf("state %s, exhausted want %v", st.State, c.exhausted)
			}
			if got := a.Room(t0.UnixNano()); math.Abs(got-c.room) > 1e-9 {
				t.Errorf("room %v, want %v", got, c.room)
			}
			if c.kept && !st.Quota[0].Reset.Equal(c.until) {
				t.Errorf("reset kept %v, want %v", st.Quota[0].Reset, c.until)
			}
			if c.exhausted && !st.Until.Equal(c.until) {
				t.Errorf("out until %v, want %v", st.Until, c.until)
			}
		})
	}
}

func TestRoomIsTheTightestWindowNotYetReset(t *testing.T) {
	f := newFixture(t, testHealth, 1)
	a := f.creds[0]
	if r := a.Room(t0.UnixNano()); r != 1 {
		t.Fatalf("nothing known: room %v, want 1", r)
	}
	var q Quota
	*q.Reading(WindowRequests) = counted(45, 50, t0.Add(time.Second))
	*q.Reading(WindowTokens) = counted(3000, 10000, t0.Add(time.Minute))
	*q.Reading(WindowUnified7d) = QuotaReading{Has: HasUtilization | HasReset, Utilization: 0.5, Reset: t0.Add(time.Hour).UnixNano()}
	a.ObserveQuota(t0, &q)
	if r := a.Room(t0.UnixNano()); math.Abs(r-0.3) > 1e-9 {
		t.Fatalf("room %v, want the tokens window's 0.3", r)
	}
	if r := a.Room(t0.Add(time.Minute).UnixNano()); math.Abs(r-0.5) > 1e-9 {
		t.Fatalf("after the tokens reset: room %v, want the weekly window's 0.5", r)
	}
	if r := a.Room(t0.Add(time.Hour).UnixNano()); r != 1 {
		t.Fatalf("after every reset: room %v, want 1", r)
	}
	if st := a.Status(); len(st.Quota) != 3 {
		t.Fatalf("status windows %+v", st.Quota)
	}
}

// health_best sends the traffic to the credential with the most room;
// within five points, the two take turns.
func TestHealthBestPrefersRoom(t *testing.T) {
	f := newFixture(t, testHealth, 3)
	p := f.pool(HealthBest)
	reset := t0.Add(time.Minute)
	observe(f.creds[0], t0, WindowTokens, counted(1000, 10000, reset))
	observe(f.creds[1], t0, WindowTokens, counted(9000, 10000, reset))
	observe(f.creds[2], t0, WindowTokens, counted(5000, 10000, reset))
	if counts := f.shares(p, 30); counts[1] != 30 {
		t.Fatalf("picks %v: want every one on b (90%% left)", counts)
	}
	observe(f.creds[2], t0, WindowTokens, counted(8800, 10000, reset))
	if counts := f.shares(p, 30); counts[1] < 10 || counts[2] < 10 || counts[0] != 0 {
		t.Fatalf("picks %v: b (90%%) and c (88%%) should share, a (10%%) get none", counts)
	}
	// Success rate still comes first: room does not buy a failing credential traffic.
	fail(f.creds[1], 2)
	if counts := f.shares(p, 30); counts[1] != 0 {
		t.Fatalf("picks %v: b's failures should outweigh its room", counts)
	}
}

// When every credential is used up, the pool still serves: the one whose
// window resets first.
func TestAllExhaustedOffersTheEarliestReset(t *testing.T) {
	f := newFixture(t, testHealth, 3)
	p := f.pool(RoundRobin)
	observe(f.creds[0], t0, WindowRequests, counted(0, 50, t0.Add(30*time.Second)))
	observe(f.creds[1], t0, WindowRequests, counted(0, 50, t0.Add(5*time.Second)))
	observe(f.creds[2], t0, WindowRequests, counted(0, 50, t0.Add(60*time.Second)))
	pos, trial, ok := p.Pick(f.now(), 0, 0)
	if !ok || pos != 1 || trial {
		t.Fatalf("Pick = %d, trial %v, ok %v; want b (resets first), no trial", pos, trial, ok)
	}
}

// A used-up window and a cool-down combine: the credential is back only
// when both are over.
func TestExhaustionAndCoolDownCombine(t *testing.T) {
	f := newFixture(t, testHealth, 2)
	p := f.pool(RoundRobin)
	a := f.creds[0]
	observe(a, t0, WindowRequests, counted(0, 50, t0.Add(30*time.Second)))
	a.Report(RateLimited, false, 0, 5*time.Second, "429")
	f.rec.take()
	f.clock.Set(t0.Add(10 * time.Second)) // cool-down over, window not reset
	if counts := f.shares(p, 10); counts[0] != 0 {
		t.Fatalf("a picked %d times (a trial) while its window is used up", counts[0])
	}
	f.clock.Set(t0.Add(30 * time.Second))
	if counts := f.shares(p, 10); counts[0] == 0 {
		t.Fatal("a not tried again after both its cool-down and its window ended")
	}
}

func TestNewSecretForgetsTheWindows(t *testing.T) {
	f := newFixture(t, testHealth, 1)
	a := f.creds[0]
	observe(a, t0, WindowRequests, counted(0, 50, t0.Add(time.Minute)))
	f.h.Configure("a", true, 0, false)
	if a.Status().State != "quota_exhausted" {
		t.Fatal("a reload without a new secret cleared the exhaustion")
	}
	f.rec.take()
	f.h.Configure("a", true, 0, true)
	f.wantChange("a", Exhausted, Healthy, time.Time{})
	if st := a.Status(); st.State != "healthy" || len(st.Quota) != 0 || a.Room(t0.UnixNano()) != 1 {
		t.Fatalf("after a new secret: %+v", st)
	}
}

func TestQuotaStatusJSON(t *testing.T) {
	f := newFixture(t, testHealth, 1)
	a := f.creds[0]
	var q Quota
	*q.Reading(WindowRequests) = counted(0, 50, t0.Add(2*time.Second))
	*q.Reading(WindowUnified5h) = QuotaReading{Has: HasUtilization | HasStatus | HasReset, Utilization: 0.25, Status: StatusAllowed, Reset: t0.Add(time.Hour).UnixNano()}
	a.ObserveQuota(t0, &q)
	b, err := json.Marshal(a.Status())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"state":"quota_exhausted"`, `"until":"2025-03-10T12:00:12Z"`, `"reason":"requests window: 0 of 50 left"`,
		`{"window":"requests","limit":50,"remaining":0,"remaining_fraction":0,"reset":"2025-03-10T12:00:12Z","exhausted":true}`,
		`{"window":"unified_5h","utilization":0.25,"status":"allowed","remaining_fraction":0.75,"reset":"2025-03-10T13:00:10Z"}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("status JSON lacks %s:\n%s", want, b)
		}
	}
}

// Answers recorded while requests pick: no race, no torn exhaustion.
func TestObserveQuotaConcurrently(t *testing.T) {
	f := newFixture(t, testHealth, 2)
	p := f.pool(HealthBest)
	now := f.now()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				observe(f.creds[g%2], now, WindowTokens, counted(int64(i%3), 2, now.Add(time.Minute)))
				if pos, trial, ok := p.Pick(now, 0, 0); ok {
					p.Cred(pos).Report(Success, trial, 0, 0, "")
				}
				_ = f.creds[g%2].Room(now.UnixNano())
				_ = f.creds[g%2].Status()
			}
		}()
	}
	wg.Wait()
	for _, c := range f.creds {
		observe(c, now, WindowTokens, counted(1, 2, now.Add(time.Minute)))
		if st := c.Status(); st.State != "healthy" {
			t.Fatalf("%s after a reading with room: %+v", c.ID, st)
		}
	}
}

// BenchmarkObserveQuota: keeping a typical Anthropic answer's four windows.
func BenchmarkObserveQuota(b *testing.B) {
	h := NewHealth(testHealth, nil)
	c := h.Cred("a")
	now := time.Now()
	var q Quota
	for i, w := range []QuotaWindow{WindowRequests, WindowTokens, WindowInputTokens, WindowOutputTokens} {
		*q.Reading(w) = counted(int64(40+i), 50, now.Add(time.Duration(i+1)*time.Second))
	}
	b.ReportAllocs()
	for b.Loop() {
		c.ObserveQuota(now, &q)
	}
}
