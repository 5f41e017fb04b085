package alerts_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/alerts"
	"github.com/aigw/aigw/config"
	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
	"github.com/aigw/aigw/tracing"
	"github.com/prometheus/client_golang/prometheus"
)

// openStore opens a real database in a temporary directory.
func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "aigw.db"), bytes.Repeat([]byte{7}, store.MasterKeySize), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// receiver is a loopback webhook receiver that records every POST.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
	status atomic.Int32  // answer; 0: 204
	hold   chan struct{} // non-nil: every request waits for it to close
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.sigs = append(r.sigs, req.Header.Get(alerts.SignatureHeader))
		hold := r.hold
		r.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-req.Context().Done():
			}
		}
		if s := r.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) posts() ([][]byte, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...), append([]string(nil), r.sigs...)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// budgetSource is a budget the test moves; calls counts the checks.
type budgetSource struct {
	mu     sync.Mutex
	b      alerts.BudgetUsage
	calls  atomic.Int64
	checks chan struct{}
}

func (s *budgetSource) set(used float64, period string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Used, s.b.Period = used, period
}

func (s *budgetSource) get() []alerts.BudgetUsage {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return []alerts.BudgetUsage{s.b}
}

// afterChecks waits until the source was read n more times: every alert
// those reads raised has been stored and queued by then.
func (s *budgetSource) afterChecks(t *testing.T, n int64) {
	t.Helper()
	from := s.calls.Load()
	waitFor(t, "budget checks", func() bool { return s.calls.Load() >= from+n })
}

func start(t *testing.T, cfg alerts.Config) *alerts.Manager {
	t.Helper()
	m, err := alerts.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return m
}

func verify(t *testing.T, secret string, body []byte, sig string) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(sig), []byte(want)) {
		t.Errorf("%s = %q; want %q (HMAC-SHA256 of the body)", alerts.SignatureHeader, sig, want)
	}
}

// A budget that climbs through 80 % and 100 % POSTs exactly once per
// crossing, signed; staying over a threshold raises nothing more; a new
// period starts over; a restart does not raise again what has fired.
func TestThresholdsPostOncePerCrossing(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	rcv := newReceiver(t)
	var logs testkit.SyncBuffer
	src := &budgetSource{b: alerts.BudgetUsage{Subject: "key:key_a", Name: "app", Budget: "monthly_cost", Period: "2026-12", Limit: 10}}
	cfg := alerts.Config{Budgets: src.get, Interval: 5 * time.Millisecond, Store: st,
		Webhooks: []alerts.Webhook{{URL: rcv.URL + "/hook", Secret: "s3cret"}},
		Logger:   slog.New(slog.NewTextHandler(&logs, nil))}
	m := start(t, cfg)

	src.set(5, "2026-12")
	src.afterChecks(t, 3)
	if b, _ := rcv.posts(); len(b) != 0 {
		t.Fatalf("at 50 %%: %d POSTs; want none", len(b))
	}
	src.set(8.5, "2026-12")
	waitFor(t, "the 80% POST", func() bool { b, _ := rcv.posts(); return len(b) == 1 })
	src.set(9.9, "2026-12")
	src.afterChecks(t, 5)
	src.set(10, "2026-12")
	waitFor(t, "the 100% POST", func() bool { b, _ := rcv.posts(); return len(b) == 2 })
	src.set(12, "2026-12")
	src.afterChecks(t, 5)
	src.set(9, "2027-01")
	waitFor(t, "the new month's 80% POST", func() bool { b, _ := rcv.posts(); return len(b) == 3 })
	src.afterChecks(t, 5)

	bodies, sigs := rcv.posts()
	if len(bodies) != 3 {
		t.Fatalf("%d POSTs; want 3 (80 %%, 100 %%, 80 %% of the next month)", len(bodies))
	}
	want := []struct {
		threshold float64
		period    string
	}{{80, "2026-12"}, {100, "2026-12"}, {80, "2027-01"}}
	for i, b := range bodies {
		verify(t, "s3cret", b, sigs[i])
		var a store.Alert
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("POST %d is not an alert: %v: %s", i, err, b)
		}
		if a.Kind != alerts.KindBudget || a.Subject != "key:key_a" || a.Threshold != want[i].threshold || a.Period != want[i].period || a.ID == "" {
			t.Errorf("POST %d = %+v; want %v %% of %s", i, a, want[i].threshold, want[i].period)
		}
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"alert: key:key_a (app) reached 80% of its monthly_cost budget for 2026-12: $8.50 of $10.00") {
		t.Errorf("no warn line for the 80%% alert; log:\n%s", logs.String())
	}
	stored, _ := st.Alerts(time.Time{}, 0)
	if len(stored) != 3 {
		t.Errorf("%d alerts stored; want 3", len(stored))
	}
	_ = m

	// A restart in the same month raises nothing that has fired.
	src2 := &budgetSource{b: src.b}
	cfg.Budgets = src2.get
	start(t, cfg)
	src2.afterChecks(t, 5)
	if b, _ := rcv.posts(); len(b) != 3 {
		t.Errorf("after a restart: %d POSTs; want still 3", len(b))
	}
}

// A receiver that answers 503 gets every try, then the alert is dropped
// with one log line; one that is down (connection refused) too.
func TestWebhookRetriedThenDropped(t *testing.T) {
	rcv := newReceiver(t)
	rcv.status.Store(http.StatusServiceUnavailable)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/secret-path-token"
	ln.Close()
	var logs testkit.SyncBuffer
	src := &budgetSource{b: alerts.BudgetUsage{Subject: "provider:openai", Budget: "monthly_cost", Period: "2026-12", Used: 100, Limit: 100}}
	m := start(t, alerts.Config{Budgets: src.get, Interval: 5 * time.Millisecond,
		Webhooks: []alerts.Webhook{{URL: rcv.URL}, {URL: down}},
		Delivery: alerts.Delivery{Tries: 3, Backoff: 10 * time.Millisecond},
		Logger:   slog.New(slog.NewTextHandler(&logs, nil))})
	waitFor(t, "two drop lines", func() bool { return strings.Count(logs.String(), "webhook delivery dropped") == 2 })
	if b, _ := rcv.posts(); len(b) != 3 {
		t.Errorf("the 503 receiver got %d POSTs; want 3 (every try)", len(b))
	}
	if strings.Contains(logs.String(), "secret-path-token") {
		t.Errorf("a log line shows the webhook URL's path:\n%s", logs.String())
	}
	if got := metric(t, m, `aigw_webhook_deliveries_total{result="failed"}`); got != 2 {
		t.Errorf("failed deliveries = %v; want 2", got)
	}
}

// A receiver that never answers holds one delivery; raising alerts never
// waits for it (the hooks hand over without blocking), and alerts over
// the queue are dropped and counted.
func TestSlowWebhookNeverBlocks(t *testing.T) {
	rcv := newReceiver(t)
	rcv.hold = make(chan struct{})
	defer close(rcv.hold)
	h := scheduler.NewHealth(scheduler.DefaultHealth, nil)
	var pools atomic.Pointer[[]alerts.Pool]
	pools.Store(&[]alerts.Pool{})
	m := start(t, alerts.Config{Interval: time.Hour, Credentials: h.All, Pools: func() []alerts.Pool { return *pools.Load() },
		Webhooks: []alerts.Webhook{{URL: rcv.URL}}, Delivery: alerts.Delivery{Queue: 2, Timeout: time.Minute}})
	// Many credentials become invalid at once: each is its own alert.
	for i := range 50 {
		m.CredentialChanged(scheduler.Change{Credential: "cred_" + string(rune('a'+i%26)) + string(rune('a'+i/26)), From: scheduler.Healthy, To: scheduler.Invalid, Reason: "401"})
	}
	waitFor(t, "alerts over the queue counted", func() bool {
		return metric(t, m, `aigw_alerts_total{kind="credential_invalid"}`) >= 10 &&
			metric(t, m, `aigw_webhook_deliveries_total{result="queue_full"}`) > 0
	})
	waitFor(t, "the first POST", func() bool { b, _ := rcv.posts(); return len(b) >= 1 })
	time.Sleep(20 * time.Millisecond)
	if b, _ := rcv.posts(); len(b) != 1 {
		t.Errorf("receiver got %d POSTs while holding the first; want 1", len(b))
	}
}

// A credential turning invalid, and the key's pool left without a healthy
// credential, each fire once a UTC day.
func TestEventsOncePerDay(t *testing.T) {
	st := openStore(t, t.TempDir())
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	var m *alerts.Manager
	h := scheduler.NewHealth(scheduler.HealthConfig{FailureThreshold: 1, FailureWindow: time.Minute, Cooldown: time.Millisecond, MaxCooldown: time.Millisecond},
		func(c scheduler.Change) { m.CredentialChanged(c) })
	h.Configure("cred_a", true, 0, false)
	h.Configure("cred_b", true, 0, false)
	pools := func() []alerts.Pool {
		return []alerts.Pool{{Key: "key_a", Name: "app", Credentials: []string{"cred_a", "cred_b"}}}
	}
	var err error
	m, err = alerts.New(alerts.Config{Interval: 5 * time.Millisecond, Credentials: h.All, Pools: pools, Store: st, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)

	kinds := func() map[string]int {
		all, _ := st.Alerts(time.Time{}, 0)
		n := map[string]int{}
		for _, a := range all {
			n[a.Kind]++
		}
		return n
	}
	h.Cred("cred_a").Report(scheduler.Rejected, false, 0, 0, "401 from upstream")
	waitFor(t, "credential_invalid", func() bool { return kinds()[alerts.KindCredentialInvalid] == 1 })
	if n := kinds()[alerts.KindPoolUnhealthy]; n != 0 {
		t.Fatalf("pool alert while cred_b is healthy: %d", n)
	}
	h.Cred("cred_b").Report(scheduler.Rejected, false, 0, 0, "403")
	waitFor(t, "pool_unhealthy", func() bool {
		k := kinds()
		return k[alerts.KindPoolUnhealthy] == 1 && k[alerts.KindCredentialInvalid] == 2
	})
	all, _ := st.Alerts(time.Time{}, 0)
	for _, a := range all {
		if a.Kind == alerts.KindPoolUnhealthy && a.Message != "key:key_a (app) has no healthy credential in its pool: cred_a invalid, cred_b invalid" {
			t.Errorf("pool alert message = %q", a.Message)
		}
	}
	// Back, and out again the same day: nothing new.
	h.Cred("cred_a").Report(scheduler.Success, true, 0, 0, "")
	h.Cred("cred_a").Report(scheduler.Rejected, false, 0, 0, "401 again")
	time.Sleep(50 * time.Millisecond)
	if k := kinds(); k[alerts.KindCredentialInvalid] != 2 || k[alerts.KindPoolUnhealthy] != 1 {
		t.Fatalf("the same day again: %v; want no new alerts", k)
	}
	// The next day it fires again.
	now.Add(int64(24 * time.Hour))
	h.Cred("cred_a").Report(scheduler.Success, true, 0, 0, "")
	h.Cred("cred_a").Report(scheduler.Rejected, false, 0, 0, "401 next day")
	waitFor(t, "the next day's alerts", func() bool {
		k := kinds()
		return k[alerts.KindCredentialInvalid] == 3 && k[alerts.KindPoolUnhealthy] == 2
	})
}

// A model without a price raises one alert per day; the number of models
// raised a day is bounded, whatever clients send.
func TestUnpricedModelsBounded(t *testing.T) {
	st := openStore(t, t.TempDir())
	m := start(t, alerts.Config{Interval: time.Hour, Store: st, MaxUnpricedModels: 3})
	day := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for i := range 10 {
		for range 3 {
			m.Observe(&store.Trace{Time: day, Provider: "openai", Model: "made-up-" + string(rune('a'+i)), UsageSource: "body", CostKnown: false})
		}
	}
	m.Observe(&store.Trace{Time: day, Model: "gpt-4o", UsageSource: "body", CostKnown: true})
	m.Observe(&store.Trace{Time: day, Model: "unread", UsageSource: "none"}) // no usage: not a price problem
	waitFor(t, "three alerts", func() bool { a, _ := st.Alerts(time.Time{}, 0); return len(a) == 3 })
	time.Sleep(30 * time.Millisecond)
	all, _ := st.Alerts(time.Time{}, 0)
	if len(all) != 3 {
		t.Fatalf("%d alerts; want 3 (the bound)", len(all))
	}
	for i, a := range all {
		if want := "model:made-up-" + string(rune('a'+i)); a.Kind != alerts.KindModelUnpriced || a.Subject != want {
			t.Errorf("alert %d = %s %s; want model_unpriced %s", i, a.Kind, a.Subject, want)
		}
	}
	m.Observe(&store.Trace{Time: day.Add(24 * time.Hour), Model: "made-up-a", UsageSource: "body"})
	waitFor(t, "the next day's alert", func() bool { a, _ := st.Alerts(time.Time{}, 0); return len(a) == 4 })
}

// A trace writer over its queue or lag threshold raises one alert a day.
func TestTracesBehind(t *testing.T) {
	st := openStore(t, t.TempDir())
	var queued atomic.Int64
	start(t, alerts.Config{Interval: 5 * time.Millisecond, Store: st, TracesQueued: 100, TracesLag: 5 * time.Second,
		Pipeline: func() tracing.Stats { return tracing.Stats{Queued: int(queued.Load()), Lag: time.Second} }})
	time.Sleep(30 * time.Millisecond)
	if a, _ := st.Alerts(time.Time{}, 0); len(a) != 0 {
		t.Fatalf("alerts while the writer keeps up: %+v", a)
	}
	queued.Store(500)
	waitFor(t, "traces_behind", func() bool { a, _ := st.Alerts(time.Time{}, 0); return len(a) == 1 })
	time.Sleep(30 * time.Millisecond)
	a, _ := st.Alerts(time.Time{}, 0)
	if len(a) != 1 || a[0].Kind != alerts.KindTracesBehind || !strings.Contains(a[0].Message, "500 traces queued") {
		t.Errorf("alerts = %+v; want one traces_behind naming 500 queued", a)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, c := range []struct {
		thresholds []float64
		hooks      []alerts.Webhook
		want       string
	}{
		{[]float64{0}, nil, "alerts.thresholds: 0 must be between 1 and 100"},
		{[]float64{80, 101}, nil, "alerts.thresholds: 101 must be between 1 and 100"},
		{nil, []alerts.Webhook{{URL: "ftp://example.com/x"}}, `alerts.webhook[0].url: scheme "ftp" must be http or https`},
		{nil, []alerts.Webhook{{URL: "https://ok.example"}, {URL: ""}}, "alerts.webhook[1].url: is empty"},
		{nil, []alerts.Webhook{{URL: "http:///path"}}, "alerts.webhook[0].url: has no host"},
		{nil, []alerts.Webhook{{URL: "https://ok.example", Events: []string{"budget_threshold", "budget_exceeded"}}}, `alerts.webhook[0].events: "budget_exceeded" is not an alert kind`},
	} {
		err := alerts.Validate(c.thresholds, c.hooks)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%v, %+v) = %v; want %q", c.thresholds, c.hooks, err, c.want)
		}
		if _, err := alerts.New(alerts.Config{Thresholds: c.thresholds, Webhooks: c.hooks}); err == nil {
			t.Errorf("New accepted %v %+v", c.thresholds, c.hooks)
		}
	}
	if err := alerts.Validate([]float64{1, 50, 100}, []alerts.Webhook{{URL: "http://127.0.0.1:9/x", Events: alerts.Kinds}}); err != nil {
		t.Errorf("good settings refused: %v", err)
	}
}

// metric reads one series of m's metrics, as /metrics shows it.
func metric(t *testing.T, m *alerts.Manager, series string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			name := f.GetName() + "{"
			for i, l := range s.GetLabel() {
				if i > 0 {
					name += ","
				}
				name += l.GetName() + `="` + l.GetValue() + `"`
			}
			if name+"}" == series {
				return s.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}

// The config file's list of kinds (validated at load) is this package's.
func TestConfigKnowsEveryKind(t *testing.T) {
	if !slices.Equal(config.AlertKinds, alerts.Kinds) {
		t.Errorf("config.AlertKinds = %v; alerts.Kinds = %v", config.AlertKinds, alerts.Kinds)
	}
}

// A pool shared by many keys is one alert, not one per key: 100,000 keys
// on two accounts that both fail give the operator one line, one webhook.
func TestSharedPoolAlertsOnce(t *testing.T) {
	st := openStore(t, t.TempDir())
	h := scheduler.NewHealth(scheduler.HealthConfig{FailureThreshold: 1, FailureWindow: time.Minute, Cooldown: time.Hour, MaxCooldown: time.Hour}, nil)
	h.Configure("cred_a", true, 0, false)
	h.Configure("cred_b", true, 0, false)
	pools := func() []alerts.Pool {
		return []alerts.Pool{
			{Key: "key_a", Name: "app", Credentials: []string{"cred_a", "cred_b"}, Keys: 100000},
			{Key: "key_z", Name: "solo", Credentials: []string{"cred_b"}, Keys: 1},
		}
	}
	m, err := alerts.New(alerts.Config{Interval: 5 * time.Millisecond, Credentials: h.All, Pools: pools, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	h.Cred("cred_a").Report(scheduler.Rejected, false, 0, 0, "401")
	h.Cred("cred_b").Report(scheduler.Rejected, false, 0, 0, "401")
	pool := func() []store.Alert {
		all, _ := st.Alerts(time.Time{}, 0)
		var out []store.Alert
		for _, a := range all {
			if a.Kind == alerts.KindPoolUnhealthy {
				out = append(out, a)
			}
		}
		return out
	}
	waitFor(t, "two pool alerts", func() bool { return len(pool()) >= 2 })
	time.Sleep(30 * time.Millisecond) // several more checks
	got := pool()
	if len(got) != 2 {
		t.Fatalf("%d pool alerts, want 2 (one per pool): %+v", len(got), got)
	}
	bySubject := map[string]store.Alert{}
	for _, a := range got {
		bySubject[a.Subject] = a
	}
	shared, ok := bySubject["pool:cred_a+cred_b"]
	if !ok || shared.Message != "100000 keys (key:key_a (app) and 99999 more) have no healthy credential in their pool: cred_a invalid, cred_b invalid" {
		t.Errorf("shared pool alert = %+v", bySubject)
	}
	if solo, ok := bySubject["key:key_z"]; !ok || solo.Message != "key:key_z (solo) has no healthy credential in its pool: cred_b invalid" {
		t.Errorf("single-key pool alert = %+v", bySubject)
	}
}
