// Package alerts tells the operator, once, what needs attention: a budget
// crossing a threshold (80 % and 100 % by default), a credential the upstream
// refused, a key whose pool has no healthy credential left, a model used
// without a price, a trace writer falling behind.
//
// Each alert fires once per period per subject: a budget threshold once per
// budget period ("2026-12", or "total" for a budget that never resets), an
// event once per UTC day (a condition that clears and comes back the same
// day is not raised again; it is on the credential or pool's live state in
// the TUI). What has fired survives restarts: it is seeded from the stored
// alerts.
//
// An alert is a log line (warn), a stored record (the last store.MaxAlerts),
// an event on the live stream and a POST to each webhook that asked for its
// kind. Nothing here runs on the proxy's request path: the proxy's health
// hook and the trace observer only hand an event over without blocking, and
// webhooks are delivered from a bounded queue by their own goroutine.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
	"github.com/aigw/aigw/tracing"
)

// Alert kinds: the names webhooks subscribe to and `aigw alerts` shows.
const (
	KindBudget            = "budget_threshold"
	KindCredentialInvalid = "credential_invalid"
	KindPoolUnhealthy     = "pool_unhealthy"
	KindModelUnpriced     = "model_unpriced"
	KindTracesBehind      = "traces_behind"
)

// Kinds lists every kind, in the order metrics and docs show them.
var Kinds = []string{KindBudget, KindCredentialInvalid, KindPoolUnhealthy, KindModelUnpriced, KindTracesBehind}

// DefaultThresholds are the budget thresholds, in percent, when config sets none.
var DefaultThresholds = []float64{80, 100}

// BudgetUsage is one budget's state (the budgets' source, e.g. the proxy's
// budget counters, adapted by the gateway).
type BudgetUsage struct {
	Subject string // "key:key_x", "provider:openai", "credential:cred_x"
	Name    string // the key's or credential's label, may be empty
	Budget  string // "monthly_cost", "monthly_tokens", "total_cost"
	Period  string // "2026-12", "total"
	Used    float64
	Limit   float64
	Reset   time.Time
}

// Pool is a gateway key and the credentials of its pool.
type Pool struct {
	Key, Name   string // the key using it (one of them when Keys > 1)
	Credentials []string
	Keys        int // active keys sharing it; 0 counts as 1
}

// Webhook is one receiver of alerts.
type Webhook struct {
	URL    string
	Events []string // kinds; empty: all
	Secret string   // signs the body (X-Aigw-Signature); empty: unsigned
}

// Store keeps alerts (store.Store does).
type Store interface {
	AddAlert(a *store.Alert) error
	Alerts(since time.Time, limit int) ([]store.Alert, error)
}

// Config wires a Manager. Every source may be nil (that check is skipped).
type Config struct {
	// Thresholds in percent of a budget, each in 1..100 (default 80, 100).
	Thresholds []float64
	Budgets    func() []BudgetUsage
	// Pools lists the active keys' pools; Credentials gives every
	// credential's live state (the scheduler's Health.All).
	Pools       func() []Pool
	Credentials func() []scheduler.Status
	// Pipeline reports the trace writer; it is behind when more than
	// TracesQueued traces wait or the last batch's lag passed TracesLag.
	Pipeline     func() tracing.Stats
	TracesQueued int
	TracesLag    time.Duration
	// Interval is how often budgets, pools and the writer are checked
	// (default 5 s); a credential's state change checks the pools at once.
	Interval time.Duration
	// MaxUnpricedModels bounds the unpriced models raised per UTC day
	// (default 20); more are counted, not raised.
	MaxUnpricedModels int
	Webhooks          []Webhook
	Delivery          Delivery
	Store             Store
	Logger            *slog.Logger
	Now               func() time.Time
}

// maxText bounds the upstream- or client-controlled text an alert carries.
const maxText = 200

// Manager raises alerts. Create it with New, run it with Run.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	in    chan store.Alert // events handed over by the hooks, deduplicated by Run
	poke  chan struct{}    // a credential changed state: check the pools
	hooks []*webhook

	// Run's goroutine only.
	fired map[string]fired // dedup key → what fired

	// Observe's goroutine only (the trace writer).
	unpricedDay string
	unpriced    map[string]bool

	mu   sync.Mutex
	subs map[chan store.Alert]struct{}

	raised     [5]atomic.Uint64 // by kind, Kinds' order
	handDrops  atomic.Uint64    // events not handed over: Run was behind
	overModels atomic.Uint64    // unpriced models over MaxUnpricedModels
}

type fired struct {
	period    string
	threshold float64 // budgets: the highest threshold fired in period
}

// New checks cfg and builds a manager; it seeds what has fired from the
// stored alerts, so a restart does not raise them again.
func New(cfg Config) (*Manager, error) {
	if err := Validate(cfg.Thresholds, cfg.Webhooks); err != nil {
		return nil, err
	}
	if len(cfg.Thresholds) == 0 {
		cfg.Thresholds = DefaultThresholds
	}
	cfg.Thresholds = slices.Clone(cfg.Thresholds)
	slices.Sort(cfg.Thresholds)
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.MaxUnpricedModels <= 0 {
		cfg.MaxUnpricedModels = 20
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, now: cfg.Now, in: make(chan store.Alert, 256), poke: make(chan struct{}, 1),
		fired: map[string]fired{}, unpriced: map[string]bool{}, subs: map[chan store.Alert]struct{}{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	for _, h := range cfg.Webhooks {
		m.hooks = append(m.hooks, newWebhook(h, cfg.Delivery, m.log))
	}
	if cfg.Store != nil {
		old, err := cfg.Store.Alerts(time.Time{}, 0)
		if err != nil {
			return nil, fmt.Errorf("reading the stored alerts: %w", err)
		}
		for _, a := range old {
			m.remember(a)
		}
	}
	return m, nil
}

// Validate checks the settings a config file gives; errors name the field.
func Validate(thresholds []float64, hooks []Webhook) error {
	var errs []error
	for _, t := range thresholds {
		if math.IsNaN(t) || t < 1 || t > 100 {
			errs = append(errs, fmt.Errorf("alerts.thresholds: %v must be between 1 and 100 (percent of a budget)", t))
		}
	}
	for i, h := range hooks {
		field := fmt.Sprintf("alerts.webhook[%d]", i)
		if err := checkURL(h.URL); err != nil {
			errs = append(errs, fmt.Errorf("%s.url: %w", field, err))
		}
		for _, e := range h.Events {
			if !slices.Contains(Kinds, e) {
				errs = append(errs, fmt.Errorf("%s.events: %q is not an alert kind (%s)", field, e, strings.Join(Kinds, ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

// Run checks the sources every Interval and raises what the hooks hand
// over, until ctx ends; then it stops the webhooks (deliveries still
// queued are dropped).
func (m *Manager) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, h := range m.hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.run(ctx)
		}()
	}
	defer wg.Wait()
	tick := time.NewTicker(m.cfg.Interval)
	defer tick.Stop()
	m.check()
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-m.in:
			m.raise(a)
		case <-m.poke:
			m.checkPools()
		case <-tick.C:
			m.check()
		}
	}
}

// check looks at every polled source once.
func (m *Manager) check() {
	m.checkBudgets()
	m.checkPools()
	m.checkTraces()
	m.forgetOldDays()
}

// dedupKey names what fires once per period: an event's kind and subject;
// a budget's subject and budget (its thresholds share one entry).
func dedupKey(a store.Alert) string {
	return a.Kind + "\x00" + a.Subject + "\x00" + a.Budget
}

// remember records a as fired.
func (m *Manager) remember(a store.Alert) {
	k := dedupKey(a)
	f, ok := m.fired[k]
	if ok && f.period == a.Period && f.threshold >= a.Threshold {
		return
	}
	m.fired[k] = fired{period: a.Period, threshold: a.Threshold}
}

// raise fires a unless it already fired in its period (for budgets: at
// this threshold or a higher one).
func (m *Manager) raise(a store.Alert) {
	if f, ok := m.fired[dedupKey(a)]; ok && f.period == a.Period && f.threshold >= a.Threshold {
		return
	}
	m.remember(a)
	if a.Time.IsZero() {
		a.Time = m.now().UTC()
	}
	if i := slices.Index(Kinds, a.Kind); i >= 0 {
		m.raised[i].Add(1)
	}
	if m.cfg.Store != nil {
		if err := m.cfg.Store.AddAlert(&a); err != nil {
			m.log.Error("cannot store an alert", "kind", a.Kind, "err", err)
		}
	}
	if a.ID == "" { // not stored: still an id to tell alerts apart
		a.ID = "alert_t" + strconv.FormatInt(a.Time.UnixNano(), 10)
	}
	m.log.Warn("alert: "+a.Message, "kind", a.Kind, "subject", a.Subject, "period", a.Period)
	m.publish(a)
	for _, h := range m.hooks {
		h.enqueue(a)
	}
}

// forgetOldDays drops events fired before today: they may fire again.
func (m *Manager) forgetOldDays() {
	today := day(m.now())
	for k, f := range m.fired {
		if len(f.period) == len(today) && f.period != today && f.period[4] == '-' && f.period[7] == '-' {
			delete(m.fired, k)
		}
	}
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// hand gives an event to Run without blocking (hooks on other goroutines).
func (m *Manager) hand(a store.Alert) bool {
	select {
	case m.in <- a:
		return true
	default:
		m.handDrops.Add(1)
		return false
	}
}

// Subscribe returns a channel of new alerts (buffered n; a subscriber
// that falls behind misses alerts, never slows them) and its cancel.
func (m *Manager) Subscribe(n int) (<-chan store.Alert, func()) {
	ch := make(chan store.Alert, n)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		delete(m.subs, ch)
		m.mu.Unlock()
	}
}

func (m *Manager) publish(a store.Alert) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ch := range m.subs {
		select {
		case ch <- a:
		default:
		}
	}
}

// clip bounds text that an upstream or a client chose.
func clip(s string) string {
	if len(s) <= maxText {
		return s
	}
	cut := maxText
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

func pct(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "%" }
