// Command stalls reads a Go runtime execution trace of a running gateway
// (GET /debug/pprof/trace?seconds=N on the admin listener) and reports
// what held a core long enough to delay requests: goroutines that ran
// without yielding for longer than -min, grouped by where they stopped,
// the garbage collector's phases and stop-the-world pauses, and how long
// runnable goroutines waited for a core.
//
// With one core (the benchmark harness pins the gateway to one), Go's
// scheduler looks at the network only when the running goroutine blocks
// or yields, so a span listed here is time during which a request that
// arrived waited.
//
//	curl -H "Authorization: Bearer $TOKEN" -o gw.trace \
//	    'http://127.0.0.1:9090/debug/pprof/trace?seconds=5'
//	go run ./bench/stalls gw.trace
package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

func main() {
	minSpan := flag.Duration("min", 200*time.Microsecond, "report running spans at least this long")
	top := flag.Int("top", 15, "groups of spans to print")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: stalls [-min D] [-top N] TRACE-FILE")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "stalls:", err)
		os.Exit(1)
	}
	defer f.Close()
	rep, err := analyze(f, *minSpan)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stalls:", err)
		os.Exit(1)
	}
	rep.print(os.Stdout, *top)
}

// group is the running spans that stopped at the same place.
type group struct {
	where string // the innermost frames outside the runtime, and the state it went to
	n     int
	total time.Duration
	max   time.Duration
}

// phase is one kind of runtime range (GC mark phase, a stop-the-world…).
type phase struct {
	name  string
	n     int
	total time.Duration
	max   time.Duration
}

type report struct {
	length   time.Duration
	spans    []group // longest total first
	phases   []phase
	waits    []time.Duration // runnable → running, sorted
	minSpan  time.Duration
	spanTime time.Duration // the spans' total
}

// analyze reads a trace and builds the report.
func analyze(r io.Reader, minSpan time.Duration) (*report, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, err
	}
	var (
		first, last trace.Time
		running     = map[trace.GoID]trace.Time{}
		runnable    = map[trace.GoID]trace.Time{}
		groups      = map[string]*group{}
		openRange   = map[string]trace.Time{}
		phases      = map[string]*phase{}
		rep         = &report{minSpan: minSpan}
	)
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		now := ev.Time()
		if first == 0 {
			first = now
		}
		last = now
		switch ev.Kind() {
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			g := st.Resource.Goroutine()
			from, to := st.Goroutine()
			switch {
			case to == trace.GoRunnable:
				runnable[g] = now
			case to == trace.GoRunning:
				if at, ok := runnable[g]; ok {
					rep.waits = append(rep.waits, now.Sub(at))
					delete(runnable, g)
				}
				running[g] = now
			}
			if from != trace.GoRunning || to == trace.GoRunning {
				continue
			}
			began, ok := running[g]
			delete(running, g)
			if !ok {
				continue
			}
			if d := now.Sub(began); d >= minSpan {
				where := frames(st.Stack, 4)
				if where == "" {
					where = frames(ev.Stack(), 4)
				}
				if where == "" {
					where = "(runtime only: GC worker or scheduler)"
				}
				key := where + " → " + to.String()
				gr := groups[key]
				if gr == nil {
					gr = &group{where: key}
					groups[key] = gr
				}
				gr.n++
				gr.total += d
				gr.max = max(gr.max, d)
				rep.spanTime += d
			}
		case trace.EventRangeBegin:
			openRange[ev.Range().Name] = now
		case trace.EventRangeEnd:
			name := ev.Range().Name
			began, ok := openRange[name]
			if !ok {
				continue
			}
			delete(openRange, name)
			p := phases[name]
			if p == nil {
				p = &phase{name: name}
				phases[name] = p
			}
			d := now.Sub(began)
			p.n++
			p.total += d
			p.max = max(p.max, d)
		}
	}
	rep.length = last.Sub(first)
	for _, g := range groups {
		rep.spans = append(rep.spans, *g)
	}
	slices.SortFunc(rep.spans, func(a, b group) int { return cmp.Or(cmp.Compare(b.total, a.total), strings.Compare(a.where, b.where)) })
	for _, p := range phases {
		rep.phases = append(rep.phases, *p)
	}
	slices.SortFunc(rep.phases, func(a, b phase) int { return cmp.Or(cmp.Compare(b.total, a.total), strings.Compare(a.name, b.name)) })
	slices.Sort(rep.waits)
	return rep, nil
}

// frames names the innermost frames of st that are not the runtime's, the
// innermost first.
func frames(st trace.Stack, n int) string {
	var out []string
	for f := range st.Frames() {
		fn := f.Func
		if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/") || strings.HasPrefix(fn, "syscall.") {
			continue
		}
		out = append(out, fn[strings.LastIndex(fn, "/")+1:])
		if len(out) == n {
			break
		}
	}
	return strings.Join(out, " < ")
}

func (r *report) print(w io.Writer, top int) {
	fmt.Fprintf(w, "trace of %v\n\n", r.length.Round(time.Millisecond))
	fmt.Fprintf(w, "runtime phases:\n")
	for _, p := range r.phases {
		fmt.Fprintf(w, "  %-45s %5d  total %-10v max %v\n", p.name, p.n, p.total.Round(time.Microsecond), p.max.Round(time.Microsecond))
	}
	if n := len(r.waits); n > 0 {
		fmt.Fprintf(w, "\nrunnable → running: %d waits, p50 %v, p99 %v, p99.9 %v, max %v\n", n,
			r.waits[n/2], r.waits[n*99/100], r.waits[n*999/1000], r.waits[n-1].Round(time.Microsecond))
	}
	share := 0.0
	if r.length > 0 {
		share = 100 * float64(r.spanTime) / float64(r.length)
	}
	fmt.Fprintf(w, "\ngoroutines running ≥ %v without a break: %v in all (%.1f %% of the trace), by where they stopped:\n", r.minSpan, r.spanTime.Round(time.Microsecond), share)
	for i, g := range r.spans {
		if i == top {
			fmt.Fprintf(w, "  … %d more\n", len(r.spans)-top)
			break
		}
		fmt.Fprintf(w, "  %5d  total %-10v max %-10v %s\n", g.n, g.total.Round(time.Microsecond), g.max.Round(time.Microsecond), g.where)
	}
}
