package main

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aigw/aigw/store"
)

func init() {
	register("traces", "stored traces 0 → SCALE_TRACES (default 0,1000000): write rate, file size, query times", runTraces)
}

const (
	fillBatch  = 2048 // the trace pipeline's batch size
	fillKeys   = 1000
	fillSpan   = 30 * 24 * time.Hour
	rareEvery  = 10_000 // 1 in rareEvery traces has the rare key, the rare model, a 5xx
	rareKey    = "key_rare00000000"
	rareModel  = "o1-preview"
	retainDays = 30
	chunkSize  = 1_000_000 // the write rate is reported per chunk of this many traces
)

// providers and their models: a key calls one provider and two of its models.
var fillProviders = []struct {
	name   string
	models []string
}{
	{"openai", []string{"gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3"}},
	{"anthropic", []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"}},
	{"gemini", []string{"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.0-flash"}},
}

// filler makes realistic traces in time order: fillKeys keys, 3 providers,
// 10 models, 1 in rareEvery of them by rareKey, for rareModel, and a 502;
// 0.5 % are 429s. Trace i of total is at start + i × span/total.
type filler struct {
	rng   *rand.Rand
	keys  []string
	start time.Time
	step  time.Duration
	next  int
	batch []*store.Trace
}

func newFiller(total int) *filler {
	f := &filler{rng: rand.New(rand.NewPCG(1, 2)), start: time.Now().Add(-fillSpan).Truncate(time.Millisecond)}
	if total > 0 {
		f.step = fillSpan / time.Duration(total)
	}
	for i := range fillKeys {
		f.keys = append(f.keys, fmt.Sprintf("key_%012d", i))
	}
	f.batch = make([]*store.Trace, fillBatch)
	for i := range f.batch {
		f.batch[i] = new(store.Trace)
	}
	return f
}

// requestID is the proxy's id: milliseconds and a 16-bit sequence in 13
// characters of base32hex.
func requestID(tm time.Time, seq uint16) string {
	return string(store.AppendRequestID(nil, tm.UnixMilli(), seq))
}

// fill returns the next n (≤ fillBatch) traces; they are reused by the next call.
func (f *filler) fill(n int) []*store.Trace {
	out := f.batch[:n]
	for _, t := range out {
		i := f.next
		f.next++
		tm := f.start.Add(time.Duration(i) * f.step)
		k := f.rng.IntN(fillKeys)
		p := fillProviders[k%len(fillProviders)]
		model := p.models[(k/3+f.rng.IntN(2))%len(p.models)]
		key := f.keys[k]
		status, errText, attempts := 200, "", []store.Attempt{{CredentialID: "cred_Zx81kPq0aB3c", Status: 200, LatencyMS: 772.2}}
		switch {
		case i%rareEvery == 1234:
			status, errText = 502, "upstream 502: bad gateway"
			attempts = []store.Attempt{{CredentialID: "cred_Zx81kPq0aB3c", Status: 502, Error: errText, LatencyMS: 30.1},
				{CredentialID: "cred_Yq7f2LmN0cD4", Status: 502, Error: errText, LatencyMS: 28.4}}
		case f.rng.IntN(200) == 0:
			status, errText = 429, "upstream 429: rate limited"
			attempts = []store.Attempt{{CredentialID: "cred_Zx81kPq0aB3c", Status: 429, Error: errText, LatencyMS: 12.5}}
		}
		if i%rareEvery == 5678 {
			key = rareKey
		}
		if i%rareEvery == 9012 {
			model = rareModel
		}
		*t = store.Trace{
			RequestID: requestID(tm, uint16(i)), Time: tm, KeyID: key, KeyName: "app " + key[len(key)-3:], KeyPreview: "aigw_AbCd…",
			Provider: p.name, CredentialID: attempts[len(attempts)-1].CredentialID, Strategy: "round_robin",
			Method: "POST", Path: "/v1/chat/completions", Model: model, Stream: i%2 == 0, Status: status,
			LatencyMS: 812.4, TTFBMS: 211.7, OverheadMS: 0.084, Retries: len(attempts) - 1, Attempts: attempts,
			PromptTokens: int64(500 + f.rng.IntN(4000)), CompletionTokens: int64(50 + f.rng.IntN(800)), CacheReadTokens: 1024,
			CostUSD: 0.00912, CostKnown: true, UsageSource: "response", BytesOut: 18234, Error: errText,
		}
	}
	return out
}

// sizes reads SCALE_TRACES: ascending trace counts.
func sizes() ([]int, error) {
	out, err := counts("SCALE_TRACES", "0,1000000", "traces", 0, 100_000_000)
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// counts reads the comma-separated counts of what in the environment
// variable name (def when unset), each within [lo, hi].
func counts(name, def, what string, lo, hi int) ([]int, error) {
	s := os.Getenv(name)
	if s == "" {
		s = def
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("%s: %q is not a count of %s (%d to %d)", name, part, what, lo, hi)
		}
		out = append(out, n)
	}
	return out, nil
}

func runTraces(cfg *config) error {
	ns, err := sizes()
	if err != nil {
		return err
	}
	total := ns[len(ns)-1]
	e, err := openEnv(cfg, filepath.Join(cfg.tmpDir, "aigw.db"), store.Options{})
	if err != nil {
		return err
	}
	defer e.Close() //nolint:errcheck // closed below; the second Close does nothing
	f := newFiller(total)
	e.Live = func() error { return e.Store.WriteTraces(f.fill(1)) }
	since := time.Now().UTC().AddDate(0, 0, -retainDays).Format("2006-01-02")
	queries := []struct {
		name, api string
		cli       []string
	}{
		{"`traces --limit 100`", "/api/v1/traces?limit=100", []string{"traces", "--limit", "100"}},
		{"`--status 5xx`", "/api/v1/traces?limit=100&status=5xx", []string{"traces", "--limit", "100", "--status", "5xx"}},
		{"`--key K`", "/api/v1/traces?limit=100&key=" + rareKey, []string{"traces", "--limit", "100", "--key", rareKey}},
		{"`--model M`", "/api/v1/traces?limit=100&model=" + url.QueryEscape(rareModel), []string{"traces", "--limit", "100", "--model", rareModel}},
		{"`usage --by model --since 30d`", "/api/v1/usage?by=model&since=" + since, []string{"usage", "--by", "model", "--since", since}},
	}
	head := "| traces stored | fill rate (traces/s) | DB bytes | bytes/M traces |"
	sep := "|---:|---:|---:|---:|"
	for _, q := range queries {
		head += " " + q.name + " |"
		sep += "---:|"
	}
	var apiRows, warmRows, cliRows, cliIdleRows []string
	var fillTime, chunkTime, chunkCPU time.Duration
	chunkStart := 0
	var chunks []string // the write rate of each million traces stored
	for _, n := range ns {
		start := f.next
		var spent time.Duration
		for f.next < n {
			batch := f.fill(min(fillBatch, n-f.next))
			t0, c0 := time.Now(), cpuTime()
			if err := e.Store.WriteTraces(batch); err != nil {
				return err
			}
			d := time.Since(t0)
			spent += d
			chunkTime += d
			chunkCPU += cpuTime() - c0
			if f.next/chunkSize > chunkStart/chunkSize {
				rate := float64(f.next-chunkStart) / chunkTime.Seconds()
				cpu := float64(chunkCPU.Nanoseconds()) / 1e3 / float64(f.next-chunkStart)
				chunks = append(chunks, fmt.Sprintf("| %d–%d | %.0f | %.2f |", chunkStart, f.next, rate, cpu))
				progress("%d traces stored, %.0f traces/s, %.2f µs CPU per trace over the last %d", f.next, rate, cpu, f.next-chunkStart)
				chunkStart, chunkTime, chunkCPU = f.next, 0, 0
			}
		}
		fillTime += spent
		rate := "–"
		if n > start {
			rate = fmt.Sprintf("%.0f", float64(n-start)/spent.Seconds())
		}
		size := e.fileSize()
		perM := "–"
		if n > 0 {
			perM = fmt.Sprintf("%.0f", float64(size)/float64(n)*1e6)
		}
		api := fmt.Sprintf("| %d | %s | %d | %s |", n, rate, size, perM)
		cli, cliIdle, warm := api, api, api
		for _, q := range queries {
			if !cfg.queries {
				break
			}
			progress("%d traces: %s", n, q.api)
			ta, err := e.api(q.api, true)
			if err != nil {
				return err
			}
			tw, err := e.api(q.api, false)
			if err != nil {
				return err
			}
			warm += " " + tw.String() + " |"
			tc, err := e.cli(true, q.cli...)
			if err != nil {
				return err
			}
			ti, err := e.cli(false, q.cli...)
			if err != nil {
				return err
			}
			cliIdle += " " + ti.String() + " |"
			api += " " + ta.String() + " |"
			cli += " " + tc.String() + " |"
		}
		apiRows, warmRows = append(apiRows, api), append(warmRows, warm)
		cliRows, cliIdleRows = append(cliRows, cli), append(cliIdleRows, cliIdle)
	}
	w := cfg.out
	table := func(title string, rows []string) {
		fmt.Fprint(w, title)
		fmt.Fprintln(w, head)
		fmt.Fprintln(w, sep)
		for _, r := range rows {
			fmt.Fprintln(w, r)
		}
	}
	if !cfg.queries { // the sizes alone
		head, sep = "| traces stored | fill rate (traces/s) | DB bytes | bytes/M traces |", "|---:|---:|---:|---:|"
		cfg.aigw = ""
	}
	table(fmt.Sprintf("Fill: %s of store.WriteTraces in batches of %d. Admin API (`GET /api/v1/…`), ms, median / max of %d calls,\n"+
		"each after a trace is written (as in a live gateway, whose trace writer releases the file's mapped pages after\n"+
		"every batch, so the call reads its pages back in).\n\n", fillTime.Round(time.Second), fillBatch, cfg.calls), apiRows)
	if cfg.queries {
		table(fmt.Sprintf("\nThe same calls repeated with no write in between (pages still mapped), ms, median / max of %d.\n\n", cfg.calls), warmRows)
	}
	if len(chunks) > 0 {
		fmt.Fprintf(w, "\nWrite rate as the file grows, per %d stored: traces/s through store.WriteTraces (wall time, which other\n"+
			"processes on the machine disturb) and the process's CPU time (user + system, the GC's included) per trace.\n\n"+
			"| traces stored | traces/s | CPU µs/trace |\n|---|---:|---:|\n", chunkSize)
		for _, r := range chunks {
			fmt.Fprintln(w, r)
		}
	}
	if err := e.Close(); err != nil {
		return err
	}
	os.Remove(e.Path)
	if cfg.aigw != "" {
		table(fmt.Sprintf("\nCLI (`aigw …`, wall time with the process's start), ms, median / max of %d runs, each after a trace is written.\n\n", cfg.calls), cliRows)
		table(fmt.Sprintf("\nThe same commands with no write in between (an idle gateway), ms, median / max of %d runs.\n\n", cfg.calls), cliIdleRows)
	}
	return retention(cfg)
}

// retention shows that retention by count keeps the file bounded: it
// stores SCALE_RETAIN traces (default 200000), then, cycle after cycle,
// half as many again and prunes back to SCALE_RETAIN as the gateway's
// retention loop does, printing the file's size after each cycle.
func retention(cfg *config) error {
	keep := 200_000
	if s := os.Getenv("SCALE_RETAIN"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 || n > 100_000_000 {
			return fmt.Errorf("SCALE_RETAIN: %q is not a count of traces (1000 to 100000000)", s)
		}
		keep = n
	}
	const cycles = 8
	e, err := openEnv(cfg, filepath.Join(cfg.tmpDir, "retention.db"), store.Options{})
	if err != nil {
		return err
	}
	defer e.Close()
	f := newFiller(keep + cycles*keep/2)
	write := func(n int) error {
		for n > 0 {
			batch := f.fill(min(fillBatch, n))
			n -= len(batch)
			if err := e.Store.WriteTraces(batch); err != nil {
				return err
			}
		}
		return nil
	}
	if err := write(keep); err != nil {
		return err
	}
	w := cfg.out
	fmt.Fprintf(w, "\nRetention by count (max_count = %d): each cycle stores %d more traces and prunes back (1000 per transaction).\n\n", keep, keep/2)
	fmt.Fprintln(w, "| cycle | traces stored | DB bytes |")
	fmt.Fprintln(w, "|---:|---:|---:|")
	fmt.Fprintf(w, "| 0 | %d | %d |\n", keep, e.fileSize())
	for c := 1; c <= cycles; c++ {
		progress("retention cycle %d of %d", c, cycles)
		if err := write(keep / 2); err != nil {
			return err
		}
		if _, err := e.Store.PruneTraces(time.Time{}, uint64(keep), 1000); err != nil {
			return err
		}
		n, err := e.Store.TraceCount()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %d | %d | %d |\n", c, n, e.fileSize())
	}
	return nil
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
