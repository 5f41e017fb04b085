package main

import (
	"bytes"
	"runtime"
	"runtime/trace"
	"strings"
	"testing"
	"time"
)

// spin keeps its goroutine running, without a call that could block, for d.
//
//go:noinline
func spin(d time.Duration) int {
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		n++
	}
	return n
}

// A goroutine that holds its core for 30 ms shows as one span of about
// that length, named after the function it ran, and a collection forced
// meanwhile shows among the runtime's phases.
func TestLongSpanIsReported(t *testing.T) {
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		n := spin(30 * time.Millisecond)
		runtime.GC()
		done <- n
	}()
	<-done
	trace.Stop()

	rep, err := analyze(&buf, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Preemptions split it, so its time may stop at several places.
	var spun, longest time.Duration
	for _, g := range rep.spans {
		if strings.Contains(g.where, "spin") || strings.Contains(g.where, "TestLongSpanIsReported") {
			spun += g.total
			longest = max(longest, g.max)
		}
	}
	if spun == 0 {
		t.Fatalf("no span ≥ 2ms names the spinning function; spans: %+v", rep.spans)
	}
	// The OS may take the core away for a while, and Go preempts every
	// 10 ms: spans of ~10 ms, ~30 ms in all.
	if longest < 5*time.Millisecond || spun < 25*time.Millisecond {
		t.Errorf("the spinning goroutine's spans: longest %v, %v in all; want one ≥ 5ms and ~30ms in all", longest, spun)
	}
	gc := false
	for _, p := range rep.phases {
		gc = gc || strings.Contains(p.name, "GC")
	}
	if !gc {
		t.Errorf("no GC phase among %+v after runtime.GC()", rep.phases)
	}
	var out strings.Builder
	rep.print(&out, 5)
	if !strings.Contains(out.String(), "spin") && !strings.Contains(out.String(), "TestLongSpanIsReported") {
		t.Errorf("the report does not name the spinning function:\n%s", out.String())
	}
}

func TestNotATrace(t *testing.T) {
	if _, err := analyze(strings.NewReader("not a trace"), time.Millisecond); err == nil {
		t.Error("garbage analyzed without an error")
	}
}
