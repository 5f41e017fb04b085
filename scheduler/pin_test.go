package scheduler

import (
	"testing"
	"time"
)

// PickAt offers exactly the credential asked for, whatever the strategy,
// and says how long a credential out of rotation stays out.
func TestPickAtOffersOnlyThePinnedCredential(t *testing.T) {
	for _, s := range []Strategy{RoundRobin, Weighted, HealthBest, CacheAffinity} {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, testHealth, 3)
			p := f.pool(s)
			for range 5 {
				trial, ok, wait := p.PickAt(f.now(), 2)
				if !ok || trial || wait != 0 {
					t.Fatalf("healthy credential: ok %v trial %v wait %v", ok, trial, wait)
				}
			}
			if got := f.creds[2].rpm.Estimate(f.now().UnixNano()); got != 5 {
				t.Fatalf("rpm counted %v picks, want 5", got)
			}

			// Rate limited for 30 s: out, for as long as it is out.
			f.creds[2].Report(RateLimited, false, 0, 30*time.Second, "429")
			f.rec.take()
			f.clock.Advance(10 * time.Second)
			if _, ok, wait := p.PickAt(f.now(), 2); ok || wait != 20*time.Second {
				t.Fatalf("cooling credential: ok %v wait %v, want refused for 20s", ok, wait)
			}
			if State(f.creds[2].state.Load()) != Cooling {
				t.Fatal("PickAt changed the credential's state")
			}

			// Cool-down over: this request is its trial; another one waits.
			f.clock.Advance(20 * time.Second)
			if trial, ok, _ := p.PickAt(f.now(), 2); !ok || !trial {
				t.Fatalf("after the cool-down: ok %v trial %v, want the trial", ok, trial)
			}
			if _, ok, wait := p.PickAt(f.now(), 2); ok || wait != time.Second {
				t.Fatalf("while the trial is out: ok %v wait %v, want refused for 1s", ok, wait)
			}
			f.creds[2].Report(Success, true, 0, 0, "")
			f.rec.take()

			f.h.Configure("c", false, 0, false)
			if _, ok, wait := p.PickAt(f.now(), 2); ok || wait != 0 {
				t.Fatalf("disabled credential: ok %v wait %v, want refused with no end", ok, wait)
			}
		})
	}
}

func TestPickAtRespectsTheCredentialsOwnRPM(t *testing.T) {
	f := newFixture(t, testHealth, 2)
	f.h.Configure("a", true, 2, false)
	p := f.pool(RoundRobin)
	for range 2 {
		if _, ok, _ := p.PickAt(f.now(), 0); !ok {
			t.Fatal("refused under its rpm")
		}
	}
	_, ok, wait := p.PickAt(f.now(), 0)
	if ok || wait < time.Second || wait > 2*time.Minute {
		t.Fatalf("over its rpm: ok %v wait %v, want refused for 1s..2m", ok, wait)
	}
}
