package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

// startLoad provisions a fresh gateway for the mixed load and runs it from
// 8 clients until at least n answers came back (or 10 s passed).
func startLoad(t *testing.T, env []string, n int) (dir string, s *server, rs *results, stop func()) {
	t.Helper()
	fake := proxytest.NewServer()
	t.Cleanup(fake.Close)
	dir = t.TempDir()
	s = serveWith(t, dir, serveOptions{Env: env})
	l := setupMixed(t, s, fake)
	ctx, cancel := context.WithCancel(t.Context())
	rs = &results{}
	wait := l.run(ctx, s.proxyURL, 8, 3000, crashMix, rs)
	stop = func() { cancel(); wait() }
	t.Cleanup(stop)
	pollUntil(10*time.Second, func() int { return count(rs.list()).answered }, func(a int) bool { return a >= n })
	return dir, s, rs, stop
}

// checkMix fails the test unless the load produced each kind of answer it
// is meant to: successes, rate limits, upstream 500s, resets (502) and
// bad keys.
func checkMix(t *testing.T, tl tally) {
	t.Helper()
	for _, code := range []int{200, 401, 429, 500, 502} {
		if tl.byStatus[code] == 0 {
			t.Fatalf("the load produced no %d answer: %v", code, tl)
		}
	}
}

// SIGTERM while clients send a mix of plain requests, streams, requests
// the upstream fails or resets, rate-limited ones and bad keys: every
// request answered with a status under a valid key has its trace in the
// database after a restart. Only requests that got no answer at all (the
// connection closed by the shutdown) may have none.
func TestSIGTERMUnderMixedLoadLosesNoTrace(t *testing.T) {
	dir, s, rs, stop := startLoad(t, loadEnv, 400)
	signalled := time.Now()
	if err := s.terminate(t, syscall.SIGTERM); err != nil {
		t.Fatalf("aigw serve exited with %v after SIGTERM\n%s", err, s.stderr.String())
	}
	stop()
	all := rs.list()
	tl := count(all)
	checkMix(t, tl)

	s2 := serveWith(t, dir, serveOptions{Env: loadEnv})
	traced := cliTracedIDs(t, s2)
	var missing []result
	found, drained := 0, 0
	for _, r := range all {
		if !r.valid || r.status == 0 {
			continue
		}
		if r.id == "" {
			t.Fatalf("a %s answer (%d) carries no x-aigw-request-id", r.kind, r.status)
		}
		if r.done.After(signalled) {
			drained++
		}
		if traced[r.id] {
			found++
		} else {
			missing = append(missing, r)
		}
	}
	t.Logf("SIGTERM under load: %v; %d valid-key answers ended after the signal; traced after restart %d of %d valid-key answers (%d traces stored)",
		tl, drained, found, tl.validAnswered, len(traced))
	for i, r := range missing {
		if i == 5 {
			break
		}
		t.Errorf("no trace for %s request %s answered %d at %s", r.kind, r.id, r.status, r.done.Format(time.StampMicro))
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d answered requests have no trace after SIGTERM", len(missing), tl.validAnswered)
	}
}

// kill -9 under the same load: the database opens again, and the only
// traces missing are of requests answered within one flush interval
// (traces.flush_interval, here 250 ms) plus a 500 ms margin for the commit
// before the kill.
func TestKill9UnderLoadLosesAtMostOneFlushInterval(t *testing.T) {
	const flush, margin = 250 * time.Millisecond, 500 * time.Millisecond
	env := append([]string{"AIGW_TRACES_FLUSH_INTERVAL=" + flush.String()}, loadEnv...)
	dir, s, rs, stop := startLoad(t, env, 400)
	// Let the load run well past the window so that most answers are
	// older than it and must be stored.
	time.Sleep(4 * (flush + margin))
	killed := time.Now()
	err := s.terminate(t, syscall.SIGKILL)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("aigw serve did not die of SIGKILL: %v", err)
	}
	stop()
	all := rs.list()
	tl := count(all)
	checkMix(t, tl)

	s2 := serveWith(t, dir, serveOptions{Env: env}) // fails the test if the database does not open
	if strings.Contains(strings.ToLower(s2.stderr.String()), "corrupt") {
		t.Fatalf("restart after kill -9 reports corruption:\n%s", s2.stderr.String())
	}
	traced := cliTracedIDs(t, s2)
	window := killed.Add(-(flush + margin))
	var old, oldTraced, recent, recentLost int
	var oldestLost time.Duration // how long before the kill the oldest untraced answer came
	var lost []result
	for _, r := range all {
		if !r.valid || r.status == 0 {
			continue
		}
		if r.done.Before(window) {
			old++
			if traced[r.id] {
				oldTraced++
			} else {
				lost = append(lost, r)
			}
			continue
		}
		recent++
		if !traced[r.id] {
			recentLost++
			oldestLost = max(oldestLost, killed.Sub(r.done))
		}
	}
	t.Logf("kill -9 under load: %v; answered before the last %v: %d, traced %d; answered in it: %d, of which without a trace %d (the oldest %v before the kill)",
		tl, flush+margin, old, oldTraced, recent, recentLost, oldestLost.Round(time.Millisecond))
	if old == 0 {
		t.Fatal("no request was answered before the flush window: the test proves nothing")
	}
	for i, r := range lost {
		if i == 5 {
			break
		}
		t.Errorf("no trace for %s request %s answered %v before the kill", r.kind, r.id, killed.Sub(r.done))
	}
	if len(lost) > 0 {
		t.Fatalf("%d requests answered more than %v before kill -9 have no trace", len(lost), flush+margin)
	}
	// The reopened database takes new traces.
	var usage []map[string]any
	s2.cliJSON(t, &usage, "usage")
	if len(usage) == 0 {
		t.Fatal("`aigw usage` is empty after the restart")
	}
}
