// Package scheduler chooses which credential serves a request, tracks each
// credential's health passively from the outcomes the proxy reports, and
// keeps the per-key and per-credential rate limiters. It knows nothing of
// HTTP or storage: the proxy tells it what happened, in its own words.
//
// Everything a request touches is atomics; a credential's small mutex is
// taken only when a failure changes its state.
package scheduler

import (
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// State is a credential's place in rotation.
type State uint32

const (
	Healthy  State = iota // in rotation
	Cooling               // out until a time (5xx/network failures or 429), then tried again
	Invalid               // the upstream refused the credential (401/403); retried with a growing back-off
	Disabled              // turned off by the operator; never chosen
	Broken                // its stored record cannot be used (a secret that does not unseal); in no pool until a reload loads it
	// Exhausted is what Status and Change report while an upstream quota
	// window of the credential is used up (see ObserveQuota). It is never
	// the credential's own state: it overlays that state until the
	// window's reset, so that failures, trials and the operator's settings
	// go on as they would without it.
	Exhausted
)

func (s State) String() string {
	switch s {
	case Healthy:
		return "healthy"
	case Cooling:
		return "cooling_down"
	case Invalid:
		return "invalid"
	case Disabled:
		return "disabled"
	case Broken:
		return "broken"
	case Exhausted:
		return "quota_exhausted"
	case BudgetExhausted:
		return "budget_exhausted"
	}
	return "unknown"
}

// Outcome is what one attempt on a credential came to.
type Outcome uint8

const (
	Success     Outcome = iota // the upstream answered (any status the credential is not to blame for)
	Failure                    // 5xx, connection error, timeout, broken stream: counts toward the threshold
	RateLimited                // 429: out at once for Retry-After (or the cool-down)
	Rejected                   // 401/403: the credential is invalid
	Neutral                    // nobody's fault (the client went away): releases a half-open trial
)

// HealthConfig decides when a credential leaves and rejoins rotation.
type HealthConfig struct {
	FailureThreshold int           // failures within FailureWindow that take a credential out
	FailureWindow    time.Duration //
	Cooldown         time.Duration // first time out; doubles after each failed trial
	MaxCooldown      time.Duration
}

// DefaultHealth mirrors config.toml.example.
var DefaultHealth = HealthConfig{FailureThreshold: 3, FailureWindow: 30 * time.Second, Cooldown: 10 * time.Second, MaxCooldown: 5 * time.Minute}

// Change reports a credential's state change, for logs and the live view.
type Change struct {
	Credential string
	From, To   State
	Until      time.Time // when it will be tried again (Cooling, Invalid)
	Reason     string
}

// Cred is the live state of one credential. It is shared by every pool that
// holds the credential and survives configuration reloads. It must not be
// copied.
type Cred struct {
	ID string

	state    atomic.Uint32 // State
	until    atomic.Int64  // unix ns: end of cool-down / next trial
	trial    atomic.Bool   // a half-open trial request is in flight
	backoff  atomic.Int64  // ns: current cool-down length
	rpmLimit atomic.Int64  // own requests-per-minute limit, 0: none
	rpm      Window

	// Passive statistics (health_best, the live view).
	requests  atomic.Uint64
	failures  atomic.Uint64
	day       atomic.Int64 // UTC day of the *Today counters
	reqToday  atomic.Uint64
	failToday atomic.Uint64
	okEWMA    atomic.Uint64 // float64 bits: recent success rate, 0..1
	latEWMA   atomic.Uint64 // float64 bits: recent latency in ms
	lastError atomic.Pointer[string]

	// Upstream quota windows (quota.go).
	quota      [NumQuotaWindows]quotaSlot
	quotaSeen  atomic.Uint32 // bit w: quota[w] was ever set
	quotaUntil atomic.Int64  // unix ns: out of rotation until (0: not)
	quotaWhy   atomic.Pointer[string]

	// Its own monthly budget (budget.go).
	budgetUntil atomic.Int64 // unix ns: out of rotation until (0: not)
	budgetWhy   atomic.Pointer[string]

	mu          sync.Mutex // failure bookkeeping only
	failCount   atomic.Int32
	windowStart int64
	h           *Health
}

// Health owns every credential's state and reports changes.
type Health struct {
	cfg      HealthConfig
	onChange func(Change)
	now      func() time.Time

	mu    sync.Mutex // guards creds; taken on reload and by the admin view, never per request
	creds map[string]*Cred
}

// NewHealth creates the registry; onChange (may be nil) hears every state change.
func NewHealth(cfg HealthConfig, onChange func(Change)) *Health {
	if cfg.FailureThreshold < 1 {
		cfg.FailureThreshold = 1
	}
	if onChange == nil {
		onChange = func(Change) {}
	}
	return &Health{cfg: cfg, onChange: onChange, now: time.Now, creds: map[string]*Cred{}}
}

// Cred returns the credential's live state, creating it healthy.
func (h *Health) Cred(id string) *Cred {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.creds[id]
	if !ok {
		c = &Cred{ID: id, h: h}
		c.backoff.Store(int64(h.cfg.Cooldown))
		c.okEWMA.Store(math.Float64bits(1))
		h.creds[id] = c
	}
	return c
}

// Configure applies the operator's settings for a credential at reload.
// Re-enabling puts it back healthy; a new secret clears an invalid state.
func (h *Health) Configure(id string, enabled bool, rpm int64, secretChanged bool) *Cred {
	c := h.Cred(id)
	c.rpmLimit.Store(rpm)
	if secretChanged {
		c.clearQuota()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch from := State(c.state.Load()); {
	case from == Broken && !enabled:
		c.lastError.Store(nil)
		c.set(from, Disabled, 0, "its record loads again; disabled by the operator")
	case from == Broken:
		c.lastError.Store(nil)
		c.reset(from, "its record loads again")
	case !enabled && from != Disabled:
		c.set(from, Disabled, 0, "disabled by the operator")
	case enabled && from == Disabled:
		c.reset(from, "enabled by the operator")
	case enabled && secretChanged && from != Healthy:
		c.reset(from, "secret replaced")
	}
	return c
}

// Break marks a credential whose record could not be loaded, with the
// reason (shown as its last error). The proxy leaves it out of every pool;
// the next Configure (a reload that loads it) puts it back.
func (h *Health) Break(id, reason string) *Cred {
	c := h.Cred(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.lastError.Load(); State(c.state.Load()) == Broken && old != nil && *old == reason {
		return c
	}
	c.lastError.Store(&reason)
	c.set(State(c.state.Load()), Broken, 0, reason)
	return c
}

// Forget drops credentials that no longer exist.
func (h *Health) Forget(keep map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.creds {
		if !keep[id] {
			delete(h.creds, id)
		}
	}
}

// Status is a credential's state for display.
type Status struct {
	ID       string    `json:"id"`
	State    string    `json:"state"`
	Until    time.Time `json:"until,omitzero"`
	Requests uint64    `json:"requests"` // since aigw started
	Failures uint64    `json:"failures"`
	// RequestsToday and FailuresToday count the current UTC day.
	RequestsToday uint64  `json:"requests_today"`
	FailuresToday uint64  `json:"failures_today"`
	SuccessRate   float64 `json:"success_rate"`
	LatencyMS     float64 `json:"latency_ms"`
	LastError     string  `json:"last_error,omitempty"`
	// Reason says why a quota_exhausted or budget_exhausted credential is
	// out of rotation.
	Reason string `json:"reason,omitempty"`
	// Quota is the latest the upstream said about each of the
	// credential's rate-limit windows that has not reset yet.
	Quota []QuotaWindowStatus `json:"quota,omitempty"`
}

// Status reports one credential's live state (zero Status if unknown).
func (h *Health) Status(id string) Status {
	h.mu.Lock()
	c := h.creds[id]
	h.mu.Unlock()
	if c == nil {
		return Status{ID: id, State: Healthy.String()}
	}
	return c.Status()
}

// Status reports the credential's live state.
func (c *Cred) Status() Status {
	s := Status{
		ID: c.ID, State: State(c.state.Load()).String(),
		Requests: c.requests.Load(), Failures: c.failures.Load(),
		SuccessRate: math.Float64frombits(c.okEWMA.Load()), LatencyMS: math.Float64frombits(c.latEWMA.Load()),
	}
	if u := c.until.Load(); u != 0 && (s.State == Cooling.String() || s.State == Invalid.String()) {
		s.Until = time.Unix(0, u)
	}
	if e := c.lastError.Load(); e != nil {
		s.LastError = *e
	}
	now := c.h.now()
	if c.day.Load() == now.UTC().Unix()/86400 {
		s.RequestsToday, s.FailuresToday = c.reqToday.Load(), c.failToday.Load()
	}
	ns := now.UnixNano()
	if until := c.quotaUntil.Load(); until > ns && s.State == Healthy.String() {
		s.State, s.Until = Exhausted.String(), time.Unix(0, until)
		if why := c.quotaWhy.Load(); why != nil {
			s.Reason = *why
		}
	} else if until != 0 {
		c.exhausted(ns) // reset since: clear the mark, report it back
	}
	if s.State == Healthy.String() && c.overBudget(ns) {
		s.State, s.Until = BudgetExhausted.String(), time.Unix(0, c.budgetUntil.Load())
		if why := c.budgetWhy.Load(); why != nil {
			s.Reason = *why
		}
	}
	s.Quota = c.quotaStatus(ns)
	return s
}

// countToday adds an attempt (and a failure) to the current UTC day.
func (c *Cred) countToday(now int64, failed bool) {
	d := now / int64(24*time.Hour)
	if old := c.day.Load(); old != d && c.day.CompareAndSwap(old, d) {
		c.reqToday.Store(0)
		c.failToday.Store(0)
	}
	c.reqToday.Add(1)
	if failed {
		c.failToday.Add(1)
	}
}

// State is the credential's current state.
func (c *Cred) State() State { return State(c.state.Load()) }

// usable reports whether the credential may take a request now; trial is
// true when this request is the half-open probe after a cool-down.
func (c *Cred) usable(now int64) (ok, trial bool) {
	switch State(c.state.Load()) {
	case Healthy:
		return c.rpmOK(now) && !c.exhausted(now) && !c.overBudget(now), false
	case Disabled, Broken:
		return false, false
	}
	if now < c.until.Load() || c.exhausted(now) || c.overBudget(now) {
		return false, false
	}
	if c.trial.CompareAndSwap(false, true) {
		return true, true
	}
	return false, false
}

func (c *Cred) rpmOK(now int64) bool {
	limit := c.rpmLimit.Load()
	return limit <= 0 || c.rpm.Estimate(now) < float64(limit)
}

// Report records the outcome of an attempt on c. latency is the time to
// the upstream's response headers; errText (may be "") is kept for display.
func (c *Cred) Report(o Outcome, trial bool, latency time.Duration, retryAfter time.Duration, errText string) {
	now := c.h.now().UnixNano()
	if trial {
		defer c.trial.Store(false)
	}
	if o == Neutral {
		return
	}
	c.requests.Add(1)
	c.countToday(now, o != Success)
	ms := float64(latency) / 1e6
	switch o {
	case Success:
		ewma(&c.okEWMA, 1)
		if latency > 0 {
			if !c.latEWMA.CompareAndSwap(0, math.Float64bits(ms)) { // the first response sets it
				ewma(&c.latEWMA, ms)
			}
		}
		if State(c.state.Load()) != Healthy || trial {
			c.mu.Lock()
			if from := State(c.state.Load()); from == Cooling || from == Invalid {
				c.reset(from, "trial request succeeded")
			}
			c.mu.Unlock()
		} else if c.failCount.Load() != 0 {
			c.failCount.Store(0)
		}
		return
	}
	c.failures.Add(1)
	ewma(&c.okEWMA, 0)
	if errText != "" {
		e := errText // a copy, so that only failures put it on the heap
		c.lastError.Store(&e)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	from := State(c.state.Load())
	if from == Disabled || from == Broken {
		return
	}
	switch o {
	case Rejected:
		c.out(from, Invalid, now, 0, trial, "upstream rejected the credential: "+errText)
	case RateLimited:
		c.out(from, Cooling, now, retryAfter, trial, "upstream rate limit (429)")
	case Failure:
		if trial {
			c.out(from, Cooling, now, 0, true, "trial request failed: "+errText)
			return
		}
		if from != Healthy {
			return // a request sent before it went out: the same incident, not a failed trial
		}
		if now-c.windowStart > int64(c.h.cfg.FailureWindow) {
			c.windowStart = now
			c.failCount.Store(0)
		}
		if int(c.failCount.Add(1)) >= c.h.cfg.FailureThreshold {
			c.out(from, Cooling, now, 0, false, errText)
		}
	}
}

// out takes the credential out of rotation. wait > 0 (Retry-After) wins;
// otherwise the current back-off, doubled when a trial failed.
func (c *Cred) out(from, to State, now int64, wait time.Duration, grow bool, reason string) {
	b := c.backoff.Load()
	if grow && from != Healthy {
		b = min(2*b, int64(c.h.cfg.MaxCooldown))
		c.backoff.Store(b)
	}
	if wait <= 0 {
		wait = time.Duration(b)
	}
	c.failCount.Store(0)
	c.set(from, to, now+int64(wait), reason)
}

func (c *Cred) set(from, to State, until int64, reason string) {
	c.until.Store(until)
	c.state.Store(uint32(to))
	ch := Change{Credential: c.ID, From: from, To: to, Reason: reason}
	if until != 0 {
		ch.Until = time.Unix(0, until)
	}
	c.h.onChange(ch)
}

func (c *Cred) reset(from State, reason string) {
	// A fresh start: the success rate that took it out would otherwise keep
	// health_best from ever sending it traffic again.
	c.okEWMA.Store(math.Float64bits(1))
	c.backoff.Store(int64(c.h.cfg.Cooldown))
	c.failCount.Store(0)
	c.trial.Store(false)
	c.set(from, Healthy, 0, reason)
}

// ewma folds v into an exponentially weighted average (α = 0.1). Lost
// updates under contention are acceptable: it is a hint for health_best.
func ewma(a *atomic.Uint64, v float64) {
	old := math.Float64frombits(a.Load())
	a.Store(math.Float64bits(old + 0.1*(v-old)))
}

// All reports every known credential's live state, by id.
func (h *Health) All() []Status {
	h.mu.Lock()
	creds := make([]*Cred, 0, len(h.creds))
	for _, c := range h.creds {
		creds = append(creds, c)
	}
	h.mu.Unlock()
	out := make([]Status, len(creds))
	for i, c := range creds {
		out[i] = c.Status()
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.ID, b.ID) })
	return out
}
