package scheduler

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is a fixed instant, 10 s into a UTC minute, well inside a UTC day.
var t0 = time.Date(2025, 3, 10, 12, 0, 10, 0, time.UTC)

// testHealth keeps cool-downs short enough to reason about by hand.
var testHealth = HealthConfig{FailureThreshold: 3, FailureWindow: 30 * time.Second, Cooldown: 10 * time.Second, MaxCooldown: 60 * time.Second}

// fakeClock is the time Health reads in Report; tests move it by hand.
type fakeClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.Set(t)
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// recorder keeps every Change the Health reports.
type recorder struct {
	mu      sync.Mutex
	changes []Change
}

func (r *recorder) add(c Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
}

// take returns the changes since the last take.
func (r *recorder) take() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

// fixture is a Health with a fake clock and named credentials "a", "b", ….
type fixture struct {
	t     *testing.T
	clock *fakeClock
	h     *Health
	rec   *recorder
	creds []*Cred
}

func newFixture(t *testing.T, cfg HealthConfig, n int) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: newClock(t0), rec: &recorder{}}
	f.h = NewHealth(cfg, f.rec.add)
	f.h.now = f.clock.Now
	for i := range n {
		f.creds = append(f.creds, f.h.Cred(name(i)))
	}
	return f
}

// name is the credential id of pool position i: "a", "b", ….
func name(i int) string {
	if i < 26 {
		return string(rune('a' + i))
	}
	return fmt.Sprintf("c%d", i)
}

func (f *fixture) pool(s Strategy, weights ...int) *Pool {
	f.t.Helper()
	if weights == nil {
		weights = make([]int, len(f.creds))
		for i := range weights {
			weights[i] = 1
		}
	}
	p, err := NewPool(s, f.creds, weights)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// now is the fixture's current time, for Pick.
func (f *fixture) now() time.Time { return f.clock.Now() }

// pick picks once with nothing tried and fails the test if nothing is offered.
func (f *fixture) pick(p *Pool) (pos int, trial bool) {
	f.t.Helper()
	pos, trial, ok := p.Pick(f.now(), 0, 0)
	if !ok {
		f.t.Fatal("Pick offered no credential")
	}
	return pos, trial
}

// shares picks n times (reporting success, so that no state changes) and
// counts the picks per position.
func (f *fixture) shares(p *Pool, n int) []int {
	f.t.Helper()
	counts := make([]int, p.Len())
	for range n {
		pos, trial := f.pick(p)
		counts[pos]++
		p.Cred(pos).Report(Success, trial, 0, 0, "")
	}
	return counts
}

// fail reports n failures (not trials) on c.
func fail(c *Cred, n int) {
	for range n {
		c.Report(Failure, false, 0, 0, "502 bad gateway")
	}
}

// wantChange checks the one change the recorder holds.
func (f *fixture) wantChange(id string, from, to State, until time.Time) Change {
	f.t.Helper()
	got := f.rec.take()
	if len(got) != 1 {
		f.t.Fatalf("changes = %+v, want exactly one %s→%s of %s", got, from, to, id)
	}
	c := got[0]
	if c.Credential != id || c.From != from || c.To != to || !c.Until.Equal(until) || c.Reason == "" {
		f.t.Fatalf("change = %+v, want %s %s→%s until %v with a reason", c, id, from, to, until)
	}
	return c
}

// wantNoChange checks that no state change was reported.
func (f *fixture) wantNoChange() {
	f.t.Helper()
	if got := f.rec.take(); len(got) != 0 {
		f.t.Fatalf("unexpected state changes %+v", got)
	}
}

// wantState checks a credential's state and (for Cooling/Invalid) when it is tried again.
func wantState(t *testing.T, c *Cred, st State, until time.Time) {
	t.Helper()
	if c.State() != st {
		t.Fatalf("%s is %s, want %s", c.ID, c.State(), st)
	}
	if got := c.Status().Until; !got.Equal(until) {
		t.Fatalf("%s Until = %v, want %v", c.ID, got, until)
	}
}
