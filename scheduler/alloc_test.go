package scheduler

import (
	"testing"
	"time"
)

// The request path must not allocate: one allocation per request is
// garbage at every request rate the gateway is built for.
func TestRequestPathDoesNotAllocate(t *testing.T) {
	f := newFixture(t, testHealth, 16)
	ks := NewKeyStates(1000)
	ks.Get("key", t0)
	var w Window
	for _, s := range strategies {
		p := f.pool(s)
		if n := testing.AllocsPerRun(100, func() {
			pos, trial, _ := p.Pick(t0, 0, 0)
			p.Cred(pos).Report(Success, trial, 100*time.Millisecond, 0, "")
		}); n != 0 {
			t.Errorf("%s: Pick + Report(Success) allocate %.1f times", s, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		st := ks.Get("key", t0)
		st.Acquire(10)
		st.RPM.Allow(t0.UnixNano(), 1<<40)
		st.Charge(t0, 100, 0.01)
		st.Release()
		w.Over(t0.UnixNano(), 1<<40)
	}); n != 0 {
		t.Errorf("limits check and charge allocate %.1f times", n)
	}
}
