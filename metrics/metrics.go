// Package metrics exposes aigw's figures in the Prometheus text format.
// Per-request figures are taken from traces by the trace pipeline's writer,
// off the request path; gauges (requests in flight, credential states, the
// trace queue) are read when Prometheus scrapes.
package metrics

import (
	"net/http"
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
	"github.com/aigw/aigw/tracing"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are read at scrape time.
type Sources struct {
	InFlight    func() int64
	Credentials func() []scheduler.Status
	Pipeline    func() tracing.Stats
	// KnownModel tells the models that always get their own series (those
	// of the price table); nil: none.
	KnownModel func(model string) bool
	// Providers reports each provider: "" when it serves, else why it is
	// out of service (its configuration could not be loaded).
	Providers func() map[string]string
	Clients   func() ClientStats
	// Extra are other parts' collectors (the alerts'), registered as they are.
	Extra []prometheus.Collector
	// Budgets reports every configured budget's use; nil: none.
	Budgets func() []Budget
}

// ClientStats are the proxy's counters of its client side.
type ClientStats struct {
	Open, MaxConns int
	ConnErrors     uint64 // connections fasthttp reported an error for
	LogsSuppressed uint64 // of those, log lines not written (rate limit)
	FDWaits        uint64 // accepts that waited for a file descriptor
	BodyBytes      int64  // request-body bytes held in memory
	// Refused counts requests refused before a good gateway key was found,
	// one per RefusedReasons entry; RefusedUntraced how many of them were
	// not traced (over proxy.refused_traces a second).
	RefusedReasons  []string
	Refused         []uint64
	RefusedUntraced uint64
}

// A client chooses the model, so its label is bounded: a known model is its
// own series; the first MaxUnknownModels other models (per process, over
// all providers) are too; later ones are counted under OtherModel.
const (
	MaxUnknownModels = 100
	OtherModel       = store.OtherModel // as in the usage roll-ups
)

// Metrics holds aigw's collectors.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	ttfb        *prometheus.HistogramVec
	overhead    prometheus.Histogram
	tokens      *prometheus.CounterVec
	cost        *prometheus.CounterVec
	costUnknown *prometheus.CounterVec
	retries     *prometheus.CounterVec
	changes     *prometheus.HistogramVec
	shares      shares // per credential and key: share.go

	// Children already looked up, so that a trace costs map lookups on
	// small keys rather than label hashing. Observe runs on one goroutine
	// (the trace writer): no lock.
	reqs      map[reqLabels]prometheus.Counter
	providers map[string]*providerSeries
	models    map[modelLabels]*modelSeries // bounded: see MaxUnknownModels
	known     func(model string) bool
	unknown   int // models with their own series that known does not list
}

type reqLabels struct {
	provider, key string
	status        int
}

type modelLabels struct{ provider, model string }

type providerSeries struct {
	latency, ttfb prometheus.Observer
	retries       prometheus.Counter
}

type modelSeries struct {
	prompt, completion, cacheCreation, cacheRead, cost, costUnknown prometheus.Counter
}

var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// New registers every collector.
func New(src Sources) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), reqs: map[reqLabels]prometheus.Counter{},
		providers: map[string]*providerSeries{}, models: map[modelLabels]*modelSeries{}, known: src.KnownModel}
	if m.known == nil {
		m.known = func(string) bool { return false }
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aigw_requests_total", Help: "Requests with a valid gateway key, by provider, key and status.",
	}, []string{"provider", "key", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "aigw_request_duration_seconds", Help: "Time from request to the end of the response.", Buckets: latencyBuckets,
	}, []string{"provider"})
	m.ttfb = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "aigw_time_to_first_byte_seconds", Help: "Time from request to the upstream's response header.", Buckets: latencyBuckets,
	}, []string{"provider"})
	m.overhead = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "aigw_overhead_seconds", Help: "Time spent inside aigw per request, upstream excluded.",
		Buckets: []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05},
	})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aigw_tokens_total", Help: "Tokens by provider, model and kind (prompt, completion, cache_creation, cache_read).",
	}, []string{"provider", "model", "kind"})
	m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aigw_cost_usd_total", Help: "Cost in USD of requests whose price is known.",
	}, []string{"provider", "model"})
	m.costUnknown = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aigw_cost_unknown_requests_total", Help: "Billed requests whose cost is unknown (no usage read, or no price).",
	}, []string{"provider", "model"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aigw_retries_total", Help: "Attempts beyond the first, by provider.",
	}, []string{"provider"})
	m.changes = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "aigw_config_change_seconds",
		Help:    "Time to apply one configuration change to the proxy (after the database write), by what changed: provider, credential, key or all.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	}, []string{"kind"})
	m.shares = newShares()
	m.reg.MustRegister(m.requests, m.latency, m.ttfb, m.overhead, m.tokens, m.cost, m.costUnknown, m.retries, m.changes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(m.shares.collectors()...)
	m.reg.MustRegister(src.Extra...)
	if src.InFlight != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "aigw_requests_in_flight", Help: "Requests being served.",
		}, func() float64 { return float64(src.InFlight()) }))
	}
	if src.Pipeline != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aigw_trace_queue_depth", Help: "Traces waiting to be written."},
				func() float64 { return float64(src.Pipeline().Queued) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aigw_trace_writer_lag_seconds", Help: "Age of the oldest trace of the last batch when it was written."},
				func() float64 { return src.Pipeline().Lag.Seconds() }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aigw_traces_written_total", Help: "Traces persisted."},
				func() float64 { return float64(src.Pipeline().Written) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aigw_traces_lost_total", Help: "Traces that could not be written."},
				func() float64 { return float64(src.Pipeline().Lost) }),
		)
	}
	if src.Credentials != nil {
		m.reg.MustRegister(&credentialCollector{list: src.Credentials})
	}
	if c := src.Clients; c != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aigw_proxy_connections_open", Help: "Client connections open on the proxy."},
				func() float64 { return float64(c().Open) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aigw_proxy_connections_max", Help: "Cap on concurrent client connections (proxy.max_conns)."},
				func() float64 { return float64(c().MaxConns) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aigw_proxy_connection_errors_total", Help: "Client connections that ended in an error: malformed or aborted requests, connections over the cap."},
				func() float64 { return float64(c().ConnErrors) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aigw_proxy_connection_error_logs_suppressed_total", Help: "Connection-error log lines not written (at most one every 10s)."},
				func() float64 { return float64(c().LogsSuppressed) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aigw_proxy_accept_fd_waits_total", Help: "Times accepting a connection waited because the process was out of file descriptors."},
				func() float64 { return float64(c().FDWaits) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aigw_proxy_request_body_bytes", Help: "Request-body bytes held in memory (bounded by proxy.body_memory)."},
				func() float64 { return float64(c().BodyBytes) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aigw_proxy_refused_untraced_total", Help: "Refused requests not traced (over proxy.refused_traces a second)."},
				func() float64 { return float64(c().RefusedUntraced) }),
			refusedCollector{c},
		)
	}
	if src.Providers != nil {
		m.reg.MustRegister(&providerCollector{states: src.Providers})
	}
	if src.Budgets != nil {
		m.reg.MustRegister(budgetCollector{budgets: src.Budgets})
	}
	return m
}

// refusedCollector reports aigw_proxy_refused_total, one series per
// reason (a fixed set).
type refusedCollector struct{ stats func() ClientStats }

var refusedDesc = prometheus.NewDesc("aigw_proxy_refused_total",
	"Requests refused before a good gateway key was found, by reason (all of them, traced or not).", []string{"reason"}, nil)

func (c refusedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- refusedDesc }

func (c refusedCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for i, r := range s.RefusedReasons {
		ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(s.Refused[i]), r)
	}
}

// Observe counts one finished request (called by the trace pipeline's
// writer, one goroutine). Traces of requests no gateway key matched are
// counted by aigw_proxy_refused_total instead.
func (m *Metrics) Observe(t *store.Trace) {
	if t.KeyID == "" {
		return
	}
	rl := reqLabels{t.Provider, t.KeyID, t.Status}
	c, ok := m.reqs[rl]
	if !ok {
		if len(m.reqs) > maxCachedSeries {
			clear(m.reqs)
		}
		c = m.requests.WithLabelValues(t.Provider, t.KeyID, statusLabel(t.Status))
		m.reqs[rl] = c
	}
	c.Inc()
	ps := m.providers[t.Provider]
	if ps == nil {
		ps = &providerSeries{latency: m.latency.WithLabelValues(t.Provider), ttfb: m.ttfb.WithLabelValues(t.Provider),
			retries: m.retries.WithLabelValues(t.Provider)}
		m.providers[t.Provider] = ps
	}
	ps.latency.Observe(t.LatencyMS / 1000)
	if len(t.Attempts) > 0 {
		ps.ttfb.Observe(t.TTFBMS / 1000)
		m.overhead.Observe(t.OverheadMS / 1000)
	}
	if t.Retries > 0 {
		ps.retries.Add(float64(t.Retries))
	}
	m.shares.observe(t)
	if t.PromptTokens+t.CompletionTokens == 0 && t.CostKnown {
		return
	}
	ms := m.models[modelLabels{t.Provider, t.Model}]
	if ms == nil {
		ms = m.modelSeries(t.Provider, t.Model)
	}
	ms.prompt.Add(float64(t.PromptTokens))
	ms.completion.Add(float64(t.CompletionTokens))
	ms.cacheCreation.Add(float64(t.CacheCreationTokens))
	ms.cacheRead.Add(float64(t.CacheReadTokens))
	if t.CostKnown {
		ms.cost.Add(t.CostUSD)
	} else {
		ms.costUnknown.Inc()
	}
}

// modelSeries returns the series of a model seen for the first time, or of
// OtherModel when the model may not have its own (MaxUnknownModels).
func (m *Metrics) modelSeries(provider, model string) *modelSeries {
	if model != OtherModel && !m.known(model) {
		if m.unknown >= MaxUnknownModels {
			model = OtherModel
		} else {
			m.unknown++
		}
	}
	ml := modelLabels{provider, model}
	if ms := m.models[ml]; ms != nil {
		return ms // OtherModel's
	}
	ms := &modelSeries{
		prompt: m.tokens.WithLabelValues(provider, model, "prompt"), completion: m.tokens.WithLabelValues(provider, model, "completion"),
		cacheCreation: m.tokens.WithLabelValues(provider, model, "cache_creation"), cacheRead: m.tokens.WithLabelValues(provider, model, "cache_read"),
		cost: m.cost.WithLabelValues(provider, model), costUnknown: m.costUnknown.WithLabelValues(provider, model),
	}
	m.models[ml] = ms
	return ms
}

// maxCachedSeries bounds the lookup caches (the series themselves live in
// the registry either way).
const maxCachedSeries = 100_000

var statusLabels = func() map[int]string {
	m := map[int]string{}
	for s := 100; s < 600; s++ {
		m[s] = itoa(s)
	}
	return m
}()

func itoa(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

func statusLabel(s int) string {
	if l, ok := statusLabels[s]; ok {
		return l
	}
	return "0"
}

// Handler serves the registry in the Prometheus text format.
// ConfigChanged records how long applying one configuration change took;
// kind is "provider", "credential", "key" or "all" (a full reload).
func (m *Metrics) ConfigChanged(kind string, took time.Duration) {
	m.changes.WithLabelValues(kind).Observe(took.Seconds())
}

func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// credentialCollector reports each credential's state as a labelled gauge
// (1 for its current state), its request and failure counts, and what the
// upstream last said about each of its rate-limit windows. Windows come
// from scheduler's fixed set: at most len(QuotaWindowNames()) series per
// credential and gauge.
type credentialCollector struct {
	list func() []scheduler.Status
}

var (
	credStateDesc = prometheus.NewDesc("aigw_credential_state", "Credential state: 1 for the current one (healthy, cooling_down, invalid, disabled, broken, quota_exhausted, budget_exhausted).",
		[]string{"credential", "state"}, nil)
	credRequestsDesc = prometheus.NewDesc("aigw_credential_requests_total", "Attempts sent with the credential.", []string{"credential"}, nil)
	credFailuresDesc = prometheus.NewDesc("aigw_credential_failures_total", "Attempts with the credential that failed.", []string{"credential"}, nil)

	quotaLabels      = []string{"credential", "window"}
	quotaRatioDesc   = prometheus.NewDesc("aigw_credential_quota_remaining_ratio", "Part of the upstream rate-limit window left (0..1), as the upstream last announced it; per window: requests, tokens, input_tokens, output_tokens, unified, unified_5h, unified_7d.", quotaLabels, nil)
	quotaRemainDesc  = prometheus.NewDesc("aigw_credential_quota_remaining", "Requests or tokens left in the upstream rate-limit window, as the upstream last announced it.", quotaLabels, nil)
	quotaLimitDesc   = prometheus.NewDesc("aigw_credential_quota_limit", "Size of the upstream rate-limit window, as the upstream last announced it.", quotaLabels, nil)
	quotaResetDesc   = prometheus.NewDesc("aigw_credential_quota_reset_timestamp_seconds", "When the upstream rate-limit window resets (unix seconds).", quotaLabels, nil)
	quotaExhaustDesc = prometheus.NewDesc("aigw_credential_quota_exhausted", "1 while the upstream rate-limit window is used up (the credential is out of rotation until its reset).", quotaLabels, nil)
)

var credStates = []string{"healthy", "cooling_down", "invalid", "disabled", "broken", "quota_exhausted", "budget_exhausted"}

func (c *credentialCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- credStateDesc
	ch <- credRequestsDesc
	ch <- credFailuresDesc
	ch <- quotaRatioDesc
	ch <- quotaRemainDesc
	ch <- quotaLimitDesc
	ch <- quotaResetDesc
	ch <- quotaExhaustDesc
}

func (c *credentialCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.list() {
		for _, st := range credStates {
			v := 0.0
			if st == s.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(credStateDesc, prometheus.GaugeValue, v, s.ID, st)
		}
		ch <- prometheus.MustNewConstMetric(credRequestsDesc, prometheus.CounterValue, float64(s.Requests), s.ID)
		ch <- prometheus.MustNewConstMetric(credFailuresDesc, prometheus.CounterValue, float64(s.Failures), s.ID)
		for _, w := range s.Quota {
			if w.RemainingFraction != nil {
				ch <- prometheus.MustNewConstMetric(quotaRatioDesc, prometheus.GaugeValue, *w.RemainingFraction, s.ID, w.Window)
			}
			if w.Remaining != nil {
				ch <- prometheus.MustNewConstMetric(quotaRemainDesc, prometheus.GaugeValue, float64(*w.Remaining), s.ID, w.Window)
			}
			if w.Limit != nil {
				ch <- prometheus.MustNewConstMetric(quotaLimitDesc, prometheus.GaugeValue, float64(*w.Limit), s.ID, w.Window)
			}
			exhausted := 0.0
			if w.Exhausted {
				exhausted = 1
			}
			ch <- prometheus.MustNewConstMetric(quotaExhaustDesc, prometheus.GaugeValue, exhausted, s.ID, w.Window)
			ch <- prometheus.MustNewConstMetric(quotaResetDesc, prometheus.GaugeValue, float64(w.Reset.UnixMilli())/1000, s.ID, w.Window)
		}
	}
}

// providerCollector reports each provider's state: "ok", or "broken" when
// its configuration could not be loaded (its keys answer 503).
type providerCollector struct {
	states func() map[string]string
}

var provStateDesc = prometheus.NewDesc("aigw_provider_state", "Provider state: 1 for the current one (ok, broken: its configuration could not be loaded).",
	[]string{"provider", "state"}, nil)

func (c *providerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- provStateDesc }

func (c *providerCollector) Collect(ch chan<- prometheus.Metric) {
	for name, why := range c.states() {
		ok, broken := 1.0, 0.0
		if why != "" {
			ok, broken = 0, 1
		}
		ch <- prometheus.MustNewConstMetric(provStateDesc, prometheus.GaugeValue, ok, name, "ok")
		ch <- prometheus.MustNewConstMetric(provStateDesc, prometheus.GaugeValue, broken, name, "broken")
	}
}
