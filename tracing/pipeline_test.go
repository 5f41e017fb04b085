package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/store"
)

func sample(i int) *store.Trace {
	return &store.Trace{
		RequestID: "req" + string(rune('a'+i%26)), Time: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		KeyID: "key_1", KeyPreview: "aigw_AbCd…", Provider: "openai", CredentialID: "cred_1", Strategy: "round_robin",
		Model: "gpt-4o-mini", Status: 200, LatencyMS: 12.5, OverheadMS: 0.04, Attempts: []store.Attempt{{CredentialID: "cred_1", Status: 200}},
	}
}

func TestRequestLogLineText(t *testing.T) {
	tr := sample(0)
	tr.Error = `upstream said "no"`
	line := string(appendLogLine(nil, tr, false))
	want := `time=2026-11-25T12:00:00.0125Z level=INFO msg=request id=reqa key=key_1 key_preview=aigw_AbCd… provider=openai credential=cred_1 strategy=round_robin model=gpt-4o-mini attempts=1 status=200 latency_ms=12.5 overhead_ms=0.04 error="upstream said \"no\""` + "\n"
	if line != want {
		t.Fatalf("text line:\n got %q\nwant %q", line, want)
	}
}

// A value in the text request line is quoted exactly when slog's own text
// handler (aigw's other log lines) would quote it.
func TestRequestLogLineQuotesLikeSlog(t *testing.T) {
	values := []string{"", "plain", "gpt-4o-mini", "aigw_AbCd…", "two words", "a=b", `say "hi"`, "tab\there",
		"new\nline", "\x7f", "\x00", "zero\u200bwidth", "bad\xffutf8", "日本語", "/v1/chat/completions?x=1",
		"key_0123456789abcdef", "cred_zPO0k2hzwN2i!#$%&'()*+,-./:;<>?@[\\]^_`{|}~"}
	// Every kind of byte at every place of a long value (read eight at a time).
	for _, c := range []string{" ", "=", `"`, "\t", "\x00", "\x1f", "!", "\x7f", "é", "\u200b", "\xff", "~"} {
		for pos := range 20 {
			values = append(values, strings.Repeat("a", pos)+c+strings.Repeat("b", 19-pos))
		}
	}
	for _, v := range values {
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("", "v", v)
		slogQuoted := !strings.Contains(buf.String(), " v="+v+"\n")
		tr := sample(0)
		tr.Error = v
		line := string(appendLogLine(nil, tr, false))
		ourQuoted := !strings.HasSuffix(line, " error="+v+"\n")
		if ourQuoted != slogQuoted {
			t.Errorf("%q: quoted=%v in the request line, slog quotes=%v (%s)", v, ourQuoted, slogQuoted, line)
		}
	}
}

func TestRequestLogLineJSON(t *testing.T) {
	line := appendLogLine(nil, sample(1), true)
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("JSON line does not parse: %v\n%s", err, line)
	}
	if m["msg"] != "request" || m["level"] != "INFO" || m["status"] != 200.0 || m["credential"] != "cred_1" || m["error"] != "" {
		t.Fatalf("JSON line fields: %v", m)
	}
	if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
		t.Fatalf("time %v", m["time"])
	}
}

// A client chooses the model, an upstream the error text: the request line
// shows what a terminal would act on escaped, and the JSON line decodes to
// the exact strings.
func TestRequestLogLineEscapesTerminalControls(t *testing.T) {
	for _, v := range []string{"evil\x1b]0;pwned\x07\x1b[2J", "csi\u009b2J", "rtl\u202eevil\u2066x\u2069", "bad\xffutf8",
		"cr\rlf\ntab\tbs\b", "del\x7f", `quote" back\slash`, "\ufffd real replacement"} {
		tr := sample(0)
		tr.Model, tr.Error = v, v
		text := appendLogLine(nil, tr, false)
		noTerminalControls(t, "text line", text, true)
		if !strings.Contains(string(text), " model="+strconv.Quote(v)+" ") && v != "del\x7f" { // DEL: as slog, unquoted
			t.Errorf("text line does not show %q quoted: %s", v, text)
		}
		line := appendLogLine(nil, tr, true)
		noTerminalControls(t, "JSON line", line, false)
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("JSON line with %q does not parse: %v\n%s", v, err, line)
		}
		if want := jsonRoundTrip(v); m["model"] != want || m["error"] != want {
			t.Errorf("JSON line gives back model %q, error %q; want %q", m["model"], m["error"], want)
		}
	}
}

// noTerminalControls fails when line holds a control byte before its final
// newline, a C1 or bidi control, or invalid UTF-8. DEL is inert on a
// terminal and left as slog's text handler leaves it (allowDEL).
func noTerminalControls(t *testing.T, what string, line []byte, allowDEL bool) {
	t.Helper()
	body := strings.TrimSuffix(string(line), "\n")
	if !utf8.ValidString(body) {
		t.Errorf("%s is not valid UTF-8: %q", what, body)
	}
	for _, r := range body {
		if r < 0x20 || (r == 0x7f && !allowDEL) || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			t.Errorf("%s holds a raw %U: %q", what, r, body)
		}
	}
}

// jsonRoundTrip is what encoding/json gives back for v.
func jsonRoundTrip(v string) string {
	b, _ := json.Marshal(v)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// The JSON request line decodes to what encoding/json would have written,
// and holds nothing a terminal acts on.
func FuzzRequestLogLineJSON(f *testing.F) {
	for _, s := range []string{"", "gpt-4o", "evil\x1b]0;pwned\x07\x1b[2J", "\u009b", "\u202e", "\xff\xfe", `"\`, "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tr := sample(0)
		tr.Error = v
		line := appendLogLine(nil, tr, true)
		noTerminalControls(t, "JSON line", line, false)
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("JSON line with %q does not parse: %v\n%s", v, err, line)
		}
		if want := jsonRoundTrip(v); m["error"] != want {
			t.Fatalf("error %q decodes to %q, want %q", v, m["error"], want)
		}
	})
}

// Requests are logged in batches (few writes) and Close flushes every
// queued trace before returning.
func TestPipelineBatchesAndFlushesOnClose(t *testing.T) {
	var out testkit.SyncBuffer
	p := New(Config{QueueSize: 1024, RequestLog: &out, FlushInterval: time.Hour})
	go p.Run()
	for i := range 300 {
		p.Record(sample(i))
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "msg=request"); n != 300 {
		t.Fatalf("%d lines logged, want 300", n)
	}
	if max := len(out.String())/logChunk + 2; out.Writes() > max {
		t.Errorf("300 queued traces (%d bytes) took %d writes, want at most %d", len(out.String()), out.Writes(), max)
	}
	p.Record(sample(0)) // after Close: dropped, never blocks
}

// chunkLog records each write the request log receives.
type chunkLog struct {
	mu     sync.Mutex
	writes [][]byte
}

func (l *chunkLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, bytes.Clone(b))
	return len(b), nil
}

// A large batch's log lines go out in whole-line chunks of about logChunk
// bytes, every line once and in order: the writer keeps no buffer the size
// of a batch's log between batches.
func TestPipelineWritesTheLogOfALargeBatchInChunksOfWholeLines(t *testing.T) {
	out := &chunkLog{}
	p := New(Config{QueueSize: 4096, BatchSize: 2048, RequestLog: out, FlushInterval: time.Hour})
	go p.Run()
	id := func(i int) string { return "req" + strconv.Itoa(100000+i) }
	for i := range 2000 {
		tr := sample(i)
		tr.RequestID = id(i)
		p.Record(tr)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	var all []byte
	for _, w := range out.writes {
		if len(w) > 64<<10 {
			t.Fatalf("a write of %d bytes: the log of a batch is not chunked", len(w))
		}
		if len(w) == 0 || w[len(w)-1] != '\n' {
			t.Fatalf("a write of %d bytes does not end a line", len(w))
		}
		if last := bytes.LastIndexByte(w[:len(w)-1], '\n'); len(w) > logChunk && last >= logChunk {
			t.Fatalf("a write of %d bytes goes on past logChunk (%d) by more than its last line", len(w), logChunk)
		}
		all = append(all, w...)
	}
	lines := strings.Split(strings.TrimSuffix(string(all), "\n"), "\n")
	if len(lines) != 2000 {
		t.Fatalf("%d lines logged, want 2000", len(lines))
	}
	for i, l := range lines {
		if want := " id=" + id(i) + " "; !strings.Contains(l, want) {
			t.Fatalf("line %d is %q, want the trace %s", i, l, id(i))
		}
	}
}

// A whole batch waiting wakes the writer before its interval: a busy
// gateway keeps about one batch of traces in memory, not half the queue.
func TestPipelineWritesEachFullBatchAtOnce(t *testing.T) {
	var out testkit.SyncBuffer
	p := New(Config{QueueSize: 1024, BatchSize: 10, RequestLog: &out, FlushInterval: time.Hour})
	go p.Run()
	defer func() { _ = p.Close(context.Background()) }()
	for i := range 9 {
		p.Record(sample(i))
	}
	time.Sleep(50 * time.Millisecond)
	if n := strings.Count(out.String(), "msg=request"); n != 0 {
		t.Fatalf("%d of 9 traces written before a batch was full or the interval passed", n)
	}
	p.Record(sample(9))
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "msg=request") < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("a full batch of 10 still unwritten after 5s (%d written)", strings.Count(out.String(), "msg=request"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stallingLog is a request log on a slow disk: each write waits until the
// test lets it through.
type stallingLog struct {
	testkit.SyncBuffer
	started chan struct{}
	release chan struct{}
}

func (l *stallingLog) Write(b []byte) (int, error) {
	l.started <- struct{}{}
	<-l.release
	return l.SyncBuffer.Write(b)
}

// Traces that arrive while a batch is being written wait for the next full
// batch (or the interval): a writer that went straight back for them would
// settle, under steady traffic, on batches as small as what arrives during
// one commit, and pay a transaction for each.
func TestPipelineLeavesStragglersForTheNextBatch(t *testing.T) {
	out := &stallingLog{started: make(chan struct{}), release: make(chan struct{})}
	p := New(Config{QueueSize: 100, BatchSize: 10, RequestLog: out, FlushInterval: time.Hour})
	go p.Run()
	lines := func() int { return strings.Count(out.String(), "msg=request") }
	for i := range 10 {
		p.Record(sample(i))
	}
	<-out.started // the first batch is being written
	for i := range 3 {
		p.Record(sample(10 + i))
	}
	out.release <- struct{}{}
	select {
	case <-out.started:
		t.Fatalf("the 3 traces that arrived during a write were written at once as a batch of their own (%d lines so far)", lines())
	case <-time.After(100 * time.Millisecond):
	}
	if n := lines(); n != 10 {
		t.Fatalf("%d lines after the first batch, want 10", n)
	}
	for i := range 7 {
		p.Record(sample(13 + i))
	}
	select {
	case <-out.started:
	case <-time.After(5 * time.Second):
		t.Fatal("a second full batch was not written")
	}
	out.release <- struct{}{}
	closed := make(chan error)
	go func() { closed <- p.Close(context.Background()) }()
	for {
		select {
		case <-out.started: // Close flushes whatever is left
			out.release <- struct{}{}
			continue
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		}
		break
	}
	if n, w := lines(), out.Writes(); n != 20 || w != 2 {
		t.Fatalf("%d lines in %d writes, want 20 lines in 2 batches of 10", n, w)
	}
}

// A partial batch is written once the flush interval has passed.
func TestPipelineWritesAPartialBatchAfterTheInterval(t *testing.T) {
	var out testkit.SyncBuffer
	p := New(Config{QueueSize: 1024, BatchSize: 100, RequestLog: &out, FlushInterval: 50 * time.Millisecond})
	go p.Run()
	defer func() { _ = p.Close(context.Background()) }()
	for i := range 3 {
		p.Record(sample(i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "msg=request") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("3 traces still unwritten 5s into a 50ms flush interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A full queue makes Record wait (push-back) instead of losing the trace,
// and the writer wakes up before its interval when the queue fills.
func TestPipelinePushesBackWhenFull(t *testing.T) {
	var out testkit.SyncBuffer
	p := New(Config{QueueSize: 16, RequestLog: &out, FlushInterval: time.Hour})
	for range 16 {
		p.Record(sample(0))
	}
	blocked := make(chan struct{})
	go func() {
		p.Record(sample(1)) // the 17th: waits for room
		close(blocked)
	}()
	select {
	case <-blocked:
		t.Fatal("Record on a full queue returned without room")
	case <-time.After(100 * time.Millisecond):
	}
	go p.Run()
	select {
	case <-blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not make room")
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "msg=request") < 17 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 17 traces logged long before the flush interval", strings.Count(out.String(), "msg=request"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = p.Close(context.Background())
}

// The request line's times and milliseconds read exactly as the standard
// library would write them.
func TestRequestLogLineFormatsLikeStrconvAndTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 6, 7, 8, 9, 10, 100000000, time.UTC), time.Date(2026, 6, 7, 8, 9, 10, 120, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 5000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 12, 0, 0, 7, time.FixedZone("x", 5*3600)),
	}
	for range 10000 {
		times = append(times, time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9)))
	}
	for _, tm := range times {
		if got, want := string(appendTimeUTC(nil, tm)), tm.UTC().Format(time.RFC3339Nano); got != want {
			t.Fatalf("time %v: got %s, want %s", tm, got, want)
		}
	}
	floats := []float64{0, math.Copysign(0, -1), 0.001, 0.01, 0.1, 0.04, 12.5, 1, 10, 100.1, 999.999, 1000, 0.0005, 1.0001,
		-1.5, 1e12, 1e12 - 0.001, 123456789.123, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.NaN()}
	for range 100000 {
		floats = append(floats, float64(rng.Int64N(1<<40))/1000, float64(rng.Int64N(100000))/1000, rng.Float64()*1000)
	}
	for _, f := range floats {
		if got, want := string(appendMillis(nil, f)), strconv.FormatFloat(f, 'f', -1, 64); got != want {
			t.Fatalf("%v: got %s, want %s", f, got, want)
		}
	}
}

// Flush writes what is queued at once, whatever the interval, and says so
// when the pipeline is closed.
func TestPipelineFlushWritesWhatIsQueued(t *testing.T) {
	var out testkit.SyncBuffer
	p := New(Config{QueueSize: 1024, BatchSize: 100, RequestLog: &out, FlushInterval: time.Hour})
	go p.Run()
	for i := range 3 {
		p.Record(sample(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "msg=request"); n != 3 {
		t.Fatalf("%d of 3 queued traces written when Flush returned", n)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err == nil {
		t.Fatal("Flush of a closed pipeline said nothing")
	}
}

// A batch is observed and logged in slices, with Config.Yield between
// them, and every trace is still logged.
func TestPipelineYieldsBetweenSlices(t *testing.T) {
	var out testkit.SyncBuffer
	var yields atomic.Int32
	const n = 2*store.YieldEvery + 1
	p := New(Config{QueueSize: 4096, BatchSize: 4096, RequestLog: &out, FlushInterval: time.Hour, Yield: func() { yields.Add(1) }})
	go p.Run()
	for i := range n {
		p.Record(sample(i))
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "msg=request"); got != n {
		t.Fatalf("%d of %d traces logged", got, n)
	}
	if got := yields.Load(); got != 4 { // 2 while observing, 2 while logging
		t.Errorf("%d yields for a batch of %d; want 4", got, n)
	}
}
