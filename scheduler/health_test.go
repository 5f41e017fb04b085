package scheduler

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestStateNames(t *testing.T) {
	// These names are what the admin API, the CLI and the TUI show.
	for st, want := range map[State]string{Healthy: "healthy", Cooling: "cooling_down", Invalid: "invalid", Disabled: "disabled", Broken: "broken", State(9): "unknown"} {
		if st.String() != want {
			t.Errorf("State(%d) = %q, want %q", st, st.String(), want)
		}
	}
}

func TestRejectedCredentialLeavesRotationAtOnce(t *testing.T) {
	f := newFixture(t, testHealth, 2)
	p := f.pool(RoundRobin)
	a := f.creds[0]
	a.Report(Rejected, false, 0, 0, "401 invalid api key")
	wantState(t, a, Invalid, t0.Add(10*time.Second))
	f.wantChange("a", Healthy, Invalid, t0.Add(10*time.Second))
	if s := a.Status(); s.LastError != "401 invalid api key" || s.State != "invalid" {
		t.Fatalf("status = %+v", s)
	}
	f.clock.Advance(9 * time.Second)
	if counts := f.shares(p, 20); counts[0] != 0 {
		t.Fatalf("an invalid credential was picked %d times during its cool-down", counts[0])
	}
}

func TestRateLimitedCredentialCoolsForRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		retryAfter, wantOut time.Duration
	}{
		{7 * time.Second, 7 * time.Second},
		{90 * time.Second, 90 * time.Second}, // the upstream's word wins over the cool-down
		{0, 10 * time.Second},                // no Retry-After: the cool-down
	} {
		f := newFixture(t, testHealth, 2)
		p := f.pool(RoundRobin)
		a := f.creds[0]
		a.Report(RateLimited, false, 0, tc.retryAfter, "429")
		wantState(t, a, Cooling, t0.Add(tc.wantOut))
		f.wantChange("a", Healthy, Cooling, t0.Add(tc.wantOut))

		f.clock.Set(t0.Add(tc.wantOut - time.Millisecond))
		if counts := f.shares(p, 20); counts[0] != 0 {
			t.Fatalf("Retry-After %v: a picked %d times before %v", tc.retryAfter, counts[0], tc.wantOut)
		}
		f.clock.Set(t0.Add(tc.wantOut))
		if counts := f.shares(p, 20); counts[0] == 0 {
			t.Fatalf("Retry-After %v: a not offered again at %v", tc.retryAfter, tc.wantOut)
		}
		if a.State() != Healthy {
			t.Fatalf("a after a successful trial: %s", a.State())
		}
	}
}

func TestFailuresTakeACredentialOutOnlyAtTheThresholdWithinTheWindow(t *testing.T) {
	type event struct {
		at time.Duration
		o  Outcome
	}
	F := func(s int) event { return event{time.Duration(s) * time.Second, Failure} }
	S := func(s int) event { return event{time.Duration(s) * time.Second, Success} }
	for _, tc := range []struct {
		name   string
		events []event
		out    bool
		until  time.Duration // from t0, when out
	}{
		{"two failures stay under the threshold", []event{F(0), F(1)}, false, 0},
		{"three within the window", []event{F(0), F(10), F(20)}, true, 30 * time.Second},
		{"three at once", []event{F(5), F(5), F(5)}, true, 15 * time.Second},
		{"spread over more than the window", []event{F(0), F(20), F(40), F(80), F(100)}, false, 0},
		{"a success resets the count", []event{F(0), F(1), S(2), F(3), F(4)}, false, 0},
		{"a success resets the count, three more count again", []event{F(0), F(1), S(2), F(3), F(4), F(5)}, true, 15 * time.Second},
		{"a new window after a quiet spell", []event{F(0), F(1), F(40), F(41), F(42)}, true, 52 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testHealth, 1)
			a := f.creds[0]
			for _, e := range tc.events {
				f.clock.Set(t0.Add(e.at))
				a.Report(e.o, false, 0, 0, "503")
			}
			if !tc.out {
				wantState(t, a, Healthy, time.Time{})
				f.wantNoChange()
				return
			}
			wantState(t, a, Cooling, t0.Add(tc.until))
			f.wantChange("a", Healthy, Cooling, t0.Add(tc.until))
		})
	}
}

func TestNewHealthNeedsAtLeastOneFailure(t *testing.T) {
	f := newFixture(t, HealthConfig{FailureThreshold: 0, FailureWindow: time.Second, Cooldown: time.Second, MaxCooldown: time.Second}, 1)
	f.creds[0].Report(Failure, false, 0, 0, "")
	if f.creds[0].State() != Cooling {
		t.Fatalf("threshold 0 (read as 1): one failure left a %s", f.creds[0].State())
	}
}

// takeOut puts a credential out for the cool-down with failures at the threshold.
func (f *fixture) takeOut(c *Cred) time.Time {
	f.t.Helper()
	fail(c, testHealth.FailureThreshold)
	if c.State() != Cooling {
		f.t.Fatalf("%s after %d failures: %s", c.ID, testHealth.FailureThreshold, c.State())
	}
	f.rec.take()
	return c.Status().Until
}

func TestHalfOpenTrialBringsACredentialBack(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 2)
			p := f.pool(s)
			a := f.creds[0]
			until := f.takeOut(a)
			if !until.Equal(t0.Add(10 * time.Second)) {
				t.Fatalf("out until %v, want the 10 s cool-down", until)
			}

			// During the cool-down every request goes to b.
			f.clock.Set(until.Add(-time.Millisecond))
			if counts := f.shares(p, 20); counts[0] != 0 {
				t.Fatalf("a picked %d times during its cool-down", counts[0])
			}

			// Then one request, and only one, tries a.
			f.clock.Set(until)
			trials := 0
			for range 20 {
				pos, trial := f.pick(p)
				if (pos == 0) != trial {
					t.Fatalf("Pick = %s, trial %v: a is only offered as the trial", name(pos), trial)
				}
				if trial {
					trials++
				}
			}
			if trials != 1 {
				t.Fatalf("%d half-open trials offered while one was in flight, want 1", trials)
			}
			a.Report(Success, true, 80*time.Millisecond, 0, "")
			wantState(t, a, Healthy, time.Time{})
			f.wantChange("a", Cooling, Healthy, time.Time{})
			// Back in rotation: an ordinary pick, no longer a probe.
			f.h.Configure("b", false, 0, false)
			if pos, trial := f.pick(p); pos != 0 || trial {
				t.Fatalf("a recovered: Pick = %s (trial %v), want a as an ordinary pick", name(pos), trial)
			}
		})
	}
}

func TestFailedTrialsDoubleTheCooldownUpToTheMaximum(t *testing.T) {
	f := newFixture(t, testHealth, 1)
	p := f.pool(RoundRobin)
	a := f.creds[0]
	until := f.takeOut(a)
	for i, want := range []time.Duration{20 * time.Second, 40 * time.Second, 60 * time.Second, 60 * time.Second} {
		f.clock.Set(until)
		if _, trial := f.pick(p); !trial {
			t.Fatalf("round %d: no trial offered at the end of the cool-down", i)
		}
		a.Report(Failure, true, 0, 0, "503")
		until = f.now().Add(want)
		wantState(t, a, Cooling, until)
		f.wantChange("a", Cooling, Cooling, until)
	}

	// A successful trial resets the back-off: the next time out is 10 s again.
	f.clock.Set(until)
	if _, trial := f.pick(p); !trial {
		t.Fatal("no trial offered")
	}
	a.Report(Success, true, 0, 0, "")
	wantState(t, a, Healthy, time.Time{})
	f.rec.take()
	if u := f.takeOut(a); !u.Equal(f.now().Add(10 * time.Second)) {
		t.Fatalf("out again until %v, want now + 10 s (back-off reset)", u)
	}
}

func TestFailedTrialOfAnInvalidCredentialGrowsItsBackoff(t *testing.T) {
	f := newFixture(t, testHealth, 1)
	p := f.pool(RoundRobin)
	a := f.creds[0]
	a.Report(Rejected, false, 0, 0, "401")
	f.rec.take()
	f.clock.Advance(10 * time.Second)
	if _, trial := f.pick(p); !trial {
		t.Fatal("no trial offered")
	}
	a.Report(Rejected, true, 0, 0, "401")
	wantState(t, a, Invalid, f.now().Add(20*time.Second))
	f.wantChange("a", Invalid, Invalid, f.now().Add(20*time.Second))

	// A trial answered 429 honours Retry-After.
	f.clock.Advance(20 * time.Second)
	if _, trial := f.pick(p); !trial {
		t.Fatal("no trial offered")
	}
	a.Report(RateLimited, true, 0, 3*time.Second, "429")
	wantState(t, a, Cooling, f.now().Add(3*time.Second))
	f.wantChange("a", Invalid, Cooling, f.now().Add(3*time.Second))
}

func TestConcurrentPicksClaimTheHalfOpenTrialOnce(t *testing.T) {
	for _, s := range strategies {
		for _, size := range []int{1, 2} {
			f := newFixture(t, testHealth, size)
			p := f.pool(s)
			a := f.creds[0]
			f.clock.Set(f.takeOut(a))

			const n = 64
			type result struct {
				pos       int
				trial, ok bool
			}
			results := make([]result, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for g := range n {
				wg.Go(func() {
					<-start
					pos, trial, ok := p.Pick(f.now(), 0, 0)
					results[g] = result{pos, trial, ok}
				})
			}
			close(start)
			wg.Wait()

			trials, onA := 0, 0
			for _, r := range results {
				if !r.ok {
					t.Fatalf("%s pool of %d: a request was refused", s, size)
				}
				if r.trial {
					trials++
					if r.pos != 0 {
						t.Fatalf("%s pool of %d: trial offered on %s", s, size, name(r.pos))
					}
				}
				if r.pos == 0 {
					onA++
				}
			}
			if trials != 1 {
				t.Fatalf("%s pool of %d: %d of %d concurrent picks got the half-open trial, want exactly 1", s, size, trials, n)
			}
			if size > 1 && onA != 1 {
				t.Fatalf("%s pool of %d: %d requests sent to the cooling credential, want only its trial", s, size, onA)
			}
		}
	}
}

func TestNeutralOutcomeReleasesTheTrialWithoutChangingState(t *testing.T) {
	f := newFixture(t, testHealth, 2)
	p := f.pool(RoundRobin)
	a := f.creds[0]
	until := f.takeOut(a)
	before := a.Status()
	f.clock.Set(until.Add(time.Second))

	trial := false
	for range 2 {
		if pos, tr := f.pick(p); pos == 0 {
			trial = tr
		}
	}
	if !trial {
		t.Fatal("no trial offered on a")
	}
	// The client went away: nobody's fault.
	a.Report(Neutral, true, 0, 0, "client closed the connection")
	f.wantNoChange()
	after := a.Status()
	if after.State != before.State || !after.Until.Equal(before.Until) || after.Requests != before.Requests || after.Failures != before.Failures || after.LastError != before.LastError {
		t.Fatalf("Neutral changed the credential: %+v → %+v", before, after)
	}
	// The trial is free again for the next request.
	got := false
	for range 2 {
		if pos, tr := f.pick(p); pos == 0 && tr {
			got = true
		}
	}
	if !got {
		t.Fatal("after a Neutral trial no new trial is offered")
	}
}

func TestDisabledCredentialIsNeverPicked(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 2)
			p := f.pool(s)
			a, b := f.creds[0], f.creds[1]
			if got := f.h.Configure("a", false, 0, false); got != a {
				t.Fatal("Configure returned another credential than the live one")
			}
			wantState(t, a, Disabled, time.Time{})
			f.wantChange("a", Healthy, Disabled, time.Time{})
			f.h.Configure("a", false, 0, false) // a reload with no change
			f.wantNoChange()

			if counts := f.shares(p, 20); counts[0] != 0 {
				t.Fatalf("disabled a picked %d times", counts[0])
			}
			// Even with b out, a stays off: b (least bad) serves.
			b.Report(Rejected, false, 0, 0, "403")
			f.rec.take()
			for range 10 {
				if pos, _ := f.pick(p); pos != 1 {
					t.Fatal("disabled a picked when the only other credential is out")
				}
			}
			// A request still in flight on a when it was disabled does not revive it.
			a.Report(Success, false, 0, 0, "")
			a.Report(Failure, false, 0, 0, "")
			a.Report(Rejected, false, 0, 0, "")
			wantState(t, a, Disabled, time.Time{})
			f.wantNoChange()

			f.h.Configure("a", true, 0, false)
			wantState(t, a, Healthy, time.Time{})
			f.wantChange("a", Disabled, Healthy, time.Time{})
			if pos, trial := f.pick(p); pos != 0 || trial {
				t.Fatalf("re-enabled a: Pick = %s (trial %v), want a as a normal pick", name(pos), trial)
			}
		})
	}
}

// A credential whose record does not load is never picked, whatever the
// strategy and even when the pool has nothing else; reports about it are
// ignored; the reload that loads it puts it back.
func TestBrokenCredentialIsNeverPickedUntilItLoadsAgain(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 2)
			p := f.pool(s)
			a, b := f.creds[0], f.creds[1]
			f.h.Break("a", "its secret does not unseal")
			wantState(t, a, Broken, time.Time{})
			f.wantChange("a", Healthy, Broken, time.Time{})
			f.h.Break("a", "its secret does not unseal") // the next reload, same problem
			f.wantNoChange()
			if st := f.h.Status("a"); st.State != "broken" || st.LastError != "its secret does not unseal" {
				t.Errorf("Status = %+v; want broken with the reason", st)
			}
			b.Report(Rejected, false, 0, 0, "403") // b out: a still never serves
			f.rec.take()
			for range 10 {
				if pos, _ := f.pick(p); pos != 1 {
					t.Fatalf("broken a picked (strategy %s)", s)
				}
			}
			a.Report(Failure, false, 0, 0, "")
			wantState(t, a, Broken, time.Time{})

			f.h.Configure("a", true, 0, false)
			wantState(t, a, Healthy, time.Time{})
			f.wantChange("a", Broken, Healthy, time.Time{})
			if st := f.h.Status("a"); st.LastError != "" {
				t.Errorf("repaired credential still shows %q", st.LastError)
			}
			f.h.Break("a", "damaged")
			f.rec.take()
			f.h.Configure("a", false, 0, false) // loads again, disabled meanwhile
			wantState(t, a, Disabled, time.Time{})
		})
	}
}

func TestReenablingAnInvalidCredentialMakesItHealthy(t *testing.T) {
	f := newFixture(t, testHealth, 1)
	a := f.creds[0]
	a.Report(Rejected, false, 0, 0, "401")
	f.clock.Advance(10 * time.Second)
	a.Report(Rejected, true, 0, 0, "401") // failed trial: back-off now 20 s
	f.h.Configure("a", false, 0, false)
	f.h.Configure("a", true, 0, false)
	wantState(t, a, Healthy, time.Time{})
	// and its back-off starts over: the next time out is the 10 s cool-down
	if u := f.takeOut(a); !u.Equal(f.now().Add(10 * time.Second)) {
		t.Fatalf("out until %v, want now + 10 s", u)
	}
}

func TestNewSecretClearsAnInvalidCredential(t *testing.T) {
	f := newFixture(t, testHealth, 1)
	a := f.creds[0]
	a.Report(Rejected, false, 0, 0, "401")
	f.rec.take()

	f.h.Configure("a", true, 0, false) // a reload that does not touch a
	wantState(t, a, Invalid, t0.Add(10*time.Second))
	f.wantNoChange()

	f.h.Configure("a", true, 0, true) // the operator pasted a new key
	wantState(t, a, Healthy, time.Time{})
	f.wantChange("a", Invalid, Healthy, time.Time{})

	f.h.Configure("a", true, 0, true) // a new secret on a healthy credential: nothing to report
	f.wantNoChange()
}

func TestRequestsInFlightWhenACredentialGoesOutDoNotExtendItsCooldown(t *testing.T) {
	// Eight requests are in flight on a when its upstream starts failing;
	// they all come back with 502. The third takes a out for the cool-down;
	// the five after it are the same incident, not failed trials.
	f := newFixture(t, testHealth, 1)
	a := f.creds[0]
	fail(a, 8)
	wantState(t, a, Cooling, t0.Add(10*time.Second))
	f.wantChange("a", Healthy, Cooling, t0.Add(10*time.Second))
	if s := a.Status(); s.Failures != 8 || s.Requests != 8 {
		t.Fatalf("status = %+v, want the 8 failures counted", s)
	}
	// Its trial, when it fails, doubles from the cool-down, not from more.
	f.clock.Set(t0.Add(10 * time.Second))
	a.Report(Failure, true, 0, 0, "502")
	wantState(t, a, Cooling, t0.Add(30*time.Second))
}

func TestStatusShowsLiveFigures(t *testing.T) {
	f := newFixture(t, testHealth, 1)
	a := f.creds[0]
	if s := f.h.Status("a"); s.State != "healthy" || s.SuccessRate != 1 || s.Requests != 0 || s.LatencyMS != 0 || !s.Until.IsZero() {
		t.Fatalf("fresh credential status = %+v", s)
	}
	a.Report(Success, false, 200*time.Millisecond, 0, "")
	a.Report(Success, false, 200*time.Millisecond, 0, "")
	a.Report(Failure, false, 0, 0, "upstream answered 502")
	a.Report(Neutral, false, 0, 0, "client went away")
	s := f.h.Status("a")
	if s.ID != "a" || s.Requests != 3 || s.Failures != 1 || s.LastError != "upstream answered 502" || s.State != "healthy" {
		t.Fatalf("status = %+v", s)
	}
	if math.Abs(s.LatencyMS-200) > 0.5 {
		t.Errorf("latency after two 200 ms responses = %.2f ms", s.LatencyMS)
	}
	if s.SuccessRate >= 1 || s.SuccessRate < 0.8 {
		t.Errorf("success rate after 2 ok and 1 failure = %.3f, want just under 1", s.SuccessRate)
	}
	if s := f.h.Status("nobody"); s.ID != "nobody" || s.State != "healthy" {
		t.Fatalf("unknown credential status = %+v", s)
	}
}

func TestCredentialStateIsSharedByEveryPoolAndForgottenWhenRemoved(t *testing.T) {
	f := newFixture(t, testHealth, 2)
	if f.h.Cred("a") != f.creds[0] {
		t.Fatal("Cred returned a new state for a known credential")
	}
	p1 := f.pool(RoundRobin)
	p2, _ := NewPool(RoundRobin, []*Cred{f.h.Cred("b"), f.h.Cred("a")}, nil)
	f.creds[0].Report(Rejected, false, 0, 0, "401")
	for _, p := range []*Pool{p1, p2} {
		for range 10 {
			if pos, _ := f.pick(p); p.Cred(pos).ID == "a" {
				t.Fatal("a, invalid in one pool, picked in another")
			}
		}
	}

	f.h.Forget(map[string]bool{"b": true})
	if s := f.h.Status("a"); s.State != "healthy" || s.Requests != 0 {
		t.Fatalf("forgotten a still reports %+v", s)
	}
	if f.h.Cred("a") == f.creds[0] || f.h.Cred("b") != f.creds[1] {
		t.Fatal("Forget dropped the wrong credentials")
	}
}
