//go:build soak

package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

// The soak's load: the crash tests' mix from most clients, slow uploads
// and stalled readers from a few more (a stalled reader holds its client
// for seconds).
var slowMix = []reqKind{kindSlowBody, kindStalled}

// Tolerances of the end-of-soak check: what may stay above the start once
// the load stopped and the clients closed their connections. Upstream
// keep-alive connections stay pooled for a minute (one fd each, no
// goroutine), at most one per worker and provider in use.
const (
	soakGoroutineSlack = 32
	soakFDSlack        = 64
)

// procStatus reads a "VmHWM:"-style field of /proc/PID/status, in kB.
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestSoak runs the mixed load against `aigw serve` for SOAK_TIME (60s by
// default) from SOAK_WORKERS clients (16) plus a quarter as many slow ones,
// with a burst of 300 idle connections halfway, then checks that every answered request was traced
// and that goroutines and open fds came back down. Run it with `make soak`.
func TestSoak(t *testing.T) {
	d, workers := time.Minute, 16
	if v := os.Getenv("SOAK_TIME"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			t.Fatalf("SOAK_TIME=%q: want a duration such as 60s or 10m", v)
		}
	}
	if v := os.Getenv("SOAK_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			t.Fatalf("SOAK_WORKERS=%q: want 1 to 1000", v)
		}
		workers = n
	}
	fake := proxytest.NewServer()
	defer fake.Close()
	fake.SetRecordLimit(1000)
	dir := t.TempDir()
	// Stalled readers lose their stream after 2 s without progress.
	env := append([]string{"AIGW_PROXY_WRITE_TIMEOUT=2s"}, loadEnv...)
	s := serveWith(t, dir, serveOptions{Env: env})
	l := setupMixed(t, s, fake)
	l.StallFor = 4 * time.Second
	pid := s.cmd.Process.Pid
	startG, startFD := metric(t, s, "go_goroutines"), fdCount(t, pid)

	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var rs results
	slowWorkers := max(workers/4, 1)
	waitFast := l.run(ctx, s.proxyURL, workers, 0, crashMix, &rs)
	waitSlow := l.run(ctx, s.proxyURL, slowWorkers, 0, slowMix, &rs)
	addr := strings.TrimPrefix(s.proxyURL, "http://")
	var peakG float64
	burst := time.After(d / 2)
	tick := time.NewTicker(time.Second)
	for loop := true; loop; {
		select {
		case <-burst:
			conns := floodConns(t, addr, 300)
			t.Logf("connection flood: %d connections held for 3s", len(conns))
			time.Sleep(3 * time.Second)
			for _, c := range conns {
				c.Close()
			}
		case <-tick.C:
			peakG = max(peakG, metric(t, s, "go_goroutines"))
		case <-ctx.Done():
			loop = false
		}
	}
	tick.Stop()
	waitFast()
	waitSlow()
	tl := count(rs.list())

	// Back to rest: give the last connections up to 30 s to close.
	var endG float64
	var endFD int
	pollUntil(30*time.Second, func() bool {
		endG, endFD = metric(t, s, "go_goroutines"), fdCount(t, pid)
		return endG <= startG+4 && endFD <= startFD+4
	}, func(ok bool) bool { return ok })
	peakRSS, endRSS := procStatus(t, pid, "VmHWM"), procStatus(t, pid, "VmRSS")

	if err := s.terminate(t, syscall.SIGTERM); err != nil {
		t.Fatalf("aigw serve exited with %v after SIGTERM\n%s", err, s.stderr.String())
	}
	s2 := serveWith(t, dir, serveOptions{Env: env})
	ids := tracedIDs(t, s2)
	traced, missing := 0, 0
	for _, r := range rs.list() {
		if !r.valid || r.status == 0 {
			continue
		}
		if ids[r.id] {
			traced++
		} else {
			missing++
		}
	}
	// How the stalled readers ended, from their traces.
	var keys []struct{ ID, Name string }
	s2.cliJSON(t, &keys, "key", "list")
	stalledEnds := map[string]int{}
	for _, k := range keys {
		if k.Name != "stalled" {
			continue
		}
		var traces []struct{ Error string }
		s2.cliJSON(t, &traces, "traces", "--key", k.ID, "--limit", "10000")
		for _, tr := range traces {
			switch {
			case tr.Error == "":
				stalledEnds["complete"]++
			case strings.Contains(tr.Error, "i/o timeout"):
				stalledEnds["cut by the write timeout"]++
			default:
				stalledEnds["other error"]++
			}
		}
	}
	byKind := map[reqKind]int{}
	for _, r := range rs.list() {
		byKind[r.kind]++
	}
	var kinds []string
	for k := range kindCount {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, byKind[k]))
	}

	fmt.Printf("soak: %v with %d clients + %d slow ones (%s)\n", d, workers, slowWorkers, strings.Join(kinds, ", "))
	fmt.Printf("soak: requests sent %d / answered %d (valid key %d) / traced %d; by status:%s\n",
		tl.sent, tl.answered, tl.validAnswered, traced, strings.SplitN(tl.String(), "by status:", 2)[1])
	fmt.Printf("soak: stalled readers (traces): %v\n", stalledEnds)
	fmt.Printf("soak: serve RSS peak %.1f MiB (VmHWM) / final %.1f MiB (VmRSS)\n", float64(peakRSS)/1024, float64(endRSS)/1024)
	fmt.Printf("soak: goroutines start %.0f / peak %.0f / end %.0f (tolerance +%d)\n", startG, peakG, endG, soakGoroutineSlack)
	fmt.Printf("soak: open fds start %d / end %d (tolerance +%d)\n", startFD, endFD, soakFDSlack)

	if missing > 0 {
		t.Errorf("%d of %d valid-key answers have no trace", missing, tl.validAnswered)
	}
	if tl.validAnswered == 0 {
		t.Error("no request was answered")
	}
	if endG > startG+soakGoroutineSlack {
		t.Errorf("goroutines did not come back down: %.0f at the start, %.0f after the load", startG, endG)
	}
	if endFD > startFD+soakFDSlack {
		t.Errorf("open fds did not come back down: %d at the start, %d after the load", startFD, endFD)
	}
}
