package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/gateway"
	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
	"github.com/aigw/aigw/tracing"
)

// Bounds the hostile run below must stay within (measured: see the log).
const (
	maxDBGrowth    = 12 << 20  // bytes in use added to aigw.db by 10,000 traces (measured 10.7 MB, 2.2 of it the trace index: each distinct model is a record of its own)
	maxMetricsBody = 256 << 10 // bytes of /metrics (measured 206 KB)
	maxLogLine     = 1 << 10   // bytes of one request log line (measured 550)
)

// A key holder sends 10,000 requests, each with a different random model of
// 1–4 KiB, one in ten on a 3 KiB path, through the real gateway (proxy,
// trace pipeline, bbolt, metrics, request log); one of the two keys is
// refused by its rpm limit most of the time. What the operator's disk,
// /metrics and request log keep stays bounded, and the usage totals stay
// exact. 1,000 requests go over HTTP; so that the test takes seconds under
// -race, the other 9,000 traces are recorded straight into the gateway's
// trace pipeline, built as the proxy builds them (the model read from the
// same kind of body by usage.RequestModel).
func TestHostileModelsKeepStorageAndMetricsBounded(t *testing.T) {
	const requests, overHTTP, workers = 10_000, 1_000, 8
	fake := proxytest.NewServer()
	defer fake.Close()
	fake.SetRecordLimit(1)
	var log lineStats
	var pipeline *tracing.Pipeline
	g, err := tryStartGateway(t, t.TempDir(), false, func(o *gateway.Options) {
		o.LogOut, o.Logger = &log, slog.New(slog.NewTextHandler(io.Discard, nil))
		o.TracesReady = func(p *tracing.Pipeline) { pipeline = p }
	})
	if err != nil {
		t.Fatal(err)
	}
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", "sk-upstream")
	var limited, open struct{ ID, Secret string }
	g.okJSON(t, &limited, "key", "create", "--provider", "openai", "--credentials", cred.ID, "--rpm", "200")
	g.okJSON(t, &open, "key", "create", "--provider", "openai", "--credentials", cred.ID)
	dbPath := filepath.Join(g.dir, gateway.DBFile)
	before := dbUsed(t, g)

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	statuses := make([]map[int]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		statuses[w] = map[int]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 12))
			for i := w; i < overHTTP; i += workers {
				key := open.Secret
				if i%2 == 0 {
					key = limited.Secret
				}
				path, body := hostileRequest(rnd, i)
				req, _ := http.NewRequest("POST", "http://"+g.proxyAddr+"/openai"+path, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[w][resp.StatusCode]++
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := map[int]int{}
	for _, s := range statuses {
		for code, n := range s {
			got[code] += n
		}
	}
	if got[429] == 0 || got[200] == 0 || got[404] == 0 || got[200]+got[404]+got[429] != overHTTP {
		t.Fatalf("statuses %v: want answers (200), unknown paths (404) and rpm refusals (429) only", got)
	}
	rnd := rand.New(rand.NewPCG(99, 12))
	for i := overHTTP; i < requests; i++ {
		path, body := hostileRequest(rnd, i)
		tr := &store.Trace{RequestID: fmt.Sprintf("zz%011d", i), Time: time.Now().UTC(), KeyID: open.ID, Provider: "openai",
			Method: "POST", Path: usage.CutString(path, usage.MaxPath), Model: usage.RequestModel(body), Status: 200,
			PromptTokens: 37, CompletionTokens: 23, UsageSource: "response", LatencyMS: 1}
		if i%2 == 0 {
			tr.KeyID, tr.Status, tr.PromptTokens, tr.CompletionTokens, tr.UsageSource, tr.CostKnown = limited.ID, 429, 0, 0, "none", true
		}
		pipeline.Record(tr)
	}

	// Every trace written; then /metrics as Prometheus reads it.
	token, err := os.ReadFile(filepath.Join(g.dir, admin.LocalTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	var metrics string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		metrics = scrapeMetrics(t, g.adminURL, strings.TrimSpace(string(token)))
		if strings.Contains(metrics, "\naigw_traces_written_total "+strconv.Itoa(requests)+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("traces not all written after 30s:\n%s", regexp.MustCompile(`(?m)^aigw_traces_written_total.*$`).FindString(metrics))
		}
	}
	if len(metrics) > maxMetricsBody {
		t.Errorf("/metrics is %d bytes after %d models, want at most %d", len(metrics), requests, maxMetricsBody)
	}
	if !strings.Contains(metrics, `model="other"`) {
		t.Errorf("/metrics has no model=\"other\" series")
	}
	series := len(regexp.MustCompile(`(?m)^aigw_tokens_total\{kind="prompt"`).FindAllString(metrics, -1))

	// Roll-ups: at most 64 models per key and day, plus other; totals exact.
	var rows []store.UsageRow
	g.okJSON(t, &rows, "usage", "--by", "model")
	var total int64
	for _, r := range rows {
		total += r.Requests
		if len(r.Group) > 256 {
			t.Errorf("roll-up model of %d bytes", len(r.Group))
		}
	}
	if len(rows) > 2*store.MaxRollupModels+1 || total != requests {
		t.Errorf("usage --by model: %d rows summing %d requests; want at most %d rows and %d requests",
			len(rows), total, 2*store.MaxRollupModels+1, requests)
	}
	var traces []struct {
		Model string `json:"model"`
		Path  string `json:"path"`
	}
	g.okJSON(t, &traces, "traces", "--limit", "100")
	for _, tr := range traces {
		if len(tr.Model) > 256 || !strings.HasSuffix(tr.Model, "…") || len(tr.Path) > 2048 {
			t.Errorf("trace keeps a %d-byte model (%q at its end) and a %d-byte path", len(tr.Model), tr.Model[max(len(tr.Model)-6, 0):], len(tr.Path))
			break
		}
	}

	after := dbUsed(t, g)
	g.stop(t)
	if growth := after - before; growth > maxDBGrowth {
		t.Errorf("aigw.db grew by %d bytes, want at most %d", growth, maxDBGrowth)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if log.lines != requests || log.longest > maxLogLine {
		t.Errorf("request log: %d lines, the longest %d bytes; want %d lines of at most %d", log.lines, log.longest, requests, maxLogLine)
	}
	t.Logf("%d requests (over HTTP: %v): aigw.db +%.1f MB in use (%d → %d bytes; the file %d bytes), /metrics %d KB (%d model series), %d roll-up rows, request log %d KB (longest line %d bytes)",
		requests, got, float64(after-before)/1e6, before, after, fileSize(t, dbPath), len(metrics)/1000, series, len(rows), log.bytes/1000, log.longest)
}

// hostileRequest is request i's path (under the provider) and body: a
// distinct model of 1–4 KiB (i, then random letters), and one path in ten
// 3 KiB long.
func hostileRequest(rnd *rand.Rand, i int) (path string, body []byte) {
	path = "/v1/chat/completions"
	if i%10 == 3 {
		path += "/" + randomText(rnd, 3<<10)
	}
	body = strconv.AppendInt([]byte(`{"model":"`), int64(i), 36)
	body = append(append(body, '-'), randomText(rnd, 1<<10+rnd.IntN(3<<10))...)
	return path, append(body, `","messages":[{"role":"user","content":"hi"}]}`...)
}

// letters is random lower-case text to take random stretches from.
var letters = func() string {
	rnd := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte('a' + rnd.IntN(26))
	}
	return string(b)
}()

// randomText is n letters from a random place of letters.
func randomText(rnd *rand.Rand, n int) string {
	i := rnd.IntN(len(letters) - n)
	return letters[i : i+n]
}

// dbUsed is the size of a consistent copy of the database (`aigw backup`):
// the pages in use, without the room bbolt adds to the file ahead of need.
func dbUsed(t *testing.T, g *gw) int64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.db")
	g.ok(t, "backup", path)
	return fileSize(t, path)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func scrapeMetrics(t *testing.T, adminURL, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", adminURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// lineStats counts the request log's lines and bytes, and its longest line.
type lineStats struct {
	mu                         sync.Mutex
	bytes, lines, longest, cur int
}

func (l *lineStats) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes += len(p)
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			l.cur += len(rest)
			break
		}
		l.longest = max(l.longest, l.cur+i)
		l.lines++
		l.cur = 0
		rest = rest[i+1:]
	}
	return len(p), nil
}
