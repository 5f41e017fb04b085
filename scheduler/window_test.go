package scheduler

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// minute0 is the start of t0's minute; at(d) is minute0+d in unix ns.
var minute0 = t0.Truncate(time.Minute)

func at(d time.Duration) int64 { return minute0.Add(d).UnixNano() }

// fill admits single events at now until the window refuses one; it
// returns how many were admitted and the refusal's Retry-After.
func fill(t *testing.T, w *Window, now, limit int64) (int64, time.Duration) {
	t.Helper()
	for n := int64(0); n <= limit+1; n++ {
		if ok, ra := w.Allow(now, limit); !ok {
			return n, ra
		} else if ra != 0 {
			t.Fatalf("admitted with a Retry-After of %v", ra)
		}
	}
	t.Fatalf("limit %d: still admitting after %d events", limit, limit+2)
	return 0, 0
}

func TestWindowAdmitsTheLimitThenRefusesWithRetryAfter(t *testing.T) {
	var w Window
	now := at(10*time.Second + 500*time.Millisecond)
	n, ra := fill(t, &w, now, 60)
	if n != 60 {
		t.Fatalf("limit 60: admitted %d in one minute", n)
	}
	if ra < time.Second || ra > time.Minute {
		t.Fatalf("Retry-After %v, want between 1 s and 60 s", ra)
	}
	// It keeps refusing, with a Retry-After that counts down.
	later := now + int64(20*time.Second)
	if ok, ra2 := w.Allow(later, 60); ok || ra2 >= ra || ra2 < time.Second {
		t.Fatalf("20 s later: ok %v, Retry-After %v (was %v)", ok, ra2, ra)
	}
}

func TestWindowRetryAfterLetsAPatientClientIn(t *testing.T) {
	// A client that waits as long as Retry-After says is let in on its
	// retry; one that comes back a second early is still refused.
	for _, limit := range []int64{1, 2, 10, 60, 1000} {
		for _, offset := range []time.Duration{1 * time.Millisecond, 10*time.Second + 500*time.Millisecond, 59*time.Second + 900*time.Millisecond} {
			var w Window
			now := at(offset)
			if n, _ := fill(t, &w, now, limit); n != limit {
				t.Fatalf("limit %d: admitted %d", limit, n)
			}
			_, ra := w.Allow(now, limit)
			if ra < time.Second {
				t.Fatalf("limit %d at %v: Retry-After %v", limit, offset, ra)
			}
			if ok, _ := w.Allow(now+int64(ra-time.Second), limit); ok {
				t.Errorf("limit %d, burst at %v: admitted a second before Retry-After %v ran out", limit, offset, ra)
				continue
			}
			if ok, ra2 := w.Allow(now+int64(ra+time.Millisecond), limit); !ok {
				t.Errorf("limit %d, burst at %v: refused again after waiting Retry-After %v (now told %v)", limit, offset, ra, ra2)
			}
		}
	}
}

func TestWindowSlidesIntoTheNextMinute(t *testing.T) {
	var w Window
	if n, _ := fill(t, &w, at(10*time.Second), 60); n != 60 {
		t.Fatalf("admitted %d", n)
	}
	// Half-way through the next minute, half of the previous one still counts.
	if e := w.Estimate(at(90 * time.Second)); math.Abs(e-30) > 0.01 {
		t.Fatalf("estimate at +30 s into the next minute = %.2f, want 30", e)
	}
	if n, _ := fill(t, &w, at(90*time.Second), 60); n != 30 {
		t.Fatalf("+30 s into the next minute: admitted %d, want 30", n)
	}
	// A quarter further on, another quarter of the old minute has left.
	if n, _ := fill(t, &w, at(105*time.Second), 60); n != 15 {
		t.Fatalf("+45 s into the next minute: admitted %d, want 15", n)
	}
	// After a whole quiet minute nothing is left.
	if e := w.Estimate(at(3 * time.Minute)); e != 0 {
		t.Fatalf("estimate after a quiet minute = %.2f", e)
	}
	if n, _ := fill(t, &w, at(3*time.Minute), 60); n != 60 {
		t.Fatalf("after a quiet minute: admitted %d, want 60", n)
	}
}

func TestWindowUnlimited(t *testing.T) {
	var w Window
	for range 1000 {
		if ok, _ := w.Allow(at(0), 0); !ok {
			t.Fatal("limit 0 refused")
		}
	}
	if over, _ := w.Over(at(0), 0); over {
		t.Fatal("limit 0 reported over")
	}
}

func TestWindowTokens(t *testing.T) {
	const tpm = 1000
	var w Window
	now := at(10*time.Second + 500*time.Millisecond)
	if ok, _ := w.AllowN(now, 600, tpm); !ok {
		t.Fatal("600 of 1000 refused")
	}
	if ok, ra := w.AllowN(now, 500, tpm); ok || ra < time.Second {
		t.Fatalf("600+500 of 1000: ok %v, Retry-After %v", ok, ra)
	}
	if over, _ := w.Over(now, tpm); over {
		t.Fatal("600 of 1000 reported over")
	}
	if ok, _ := w.AllowN(now, 400, tpm); !ok {
		t.Fatal("600+400 of 1000 refused: the limit itself is allowed")
	}
	if over, ra := w.Over(now, tpm); !over || ra < time.Second || ra > time.Minute {
		t.Fatalf("at 1000 of 1000: over %v, Retry-After %v", over, ra)
	}

	// Tokens are charged after the response, so a key can go past its
	// limit; it stays over until the sliding minute has let enough go.
	var c Window
	c.Add(now, 1200)
	over, ra := c.Over(now, tpm)
	if !over || ra < time.Second || ra > 2*time.Minute {
		t.Fatalf("1200 of 1000: over %v, Retry-After %v", over, ra)
	}
	if over, _ := c.Over(now+int64(ra-time.Second), tpm); !over {
		t.Fatalf("no longer over a second before Retry-After %v", ra)
	}
	if over, _ := c.Over(now+int64(ra+time.Millisecond), tpm); over {
		t.Fatalf("still over after Retry-After %v", ra)
	}
}

func TestWindowConcurrentAllow(t *testing.T) {
	const limit, goroutines, each = 60, 16, 20
	var w Window
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			<-start
			for range each {
				if ok, _ := w.Allow(at(10*time.Second), limit); ok {
					admitted.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	// Lock-free: a racing caller may slip past the limit, one per goroutine at most.
	if n := admitted.Load(); n < limit || n > limit+goroutines-1 {
		t.Fatalf("%d goroutines admitted %d against a limit of %d", goroutines, n, limit)
	}

	// Goroutines crossing minute boundaries never lose or invent more than they add.
	var x Window
	for g := range goroutines {
		wg.Go(func() {
			for i := range 200 {
				now := at(time.Duration(g*200+i) * 40 * time.Millisecond) // spans a bit over two minutes
				x.Add(now, 1)
				if e := x.Estimate(now); e < 0 || e > goroutines*200 {
					t.Errorf("estimate %.1f out of range", e)
					return
				}
			}
		})
	}
	wg.Wait()
}
