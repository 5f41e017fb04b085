package proxy

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
	"github.com/valyala/fasthttp"
)

// Budgets cap what a key, a provider or a credential may spend in a
// calendar month (in Config.BudgetLocation) or, for a key's total_cost,
// over its life.
//
// A request is admitted against what is spent plus what requests in flight
// have reserved: each admitted request reserves an estimate (the subject's
// average per request of the last ~20, from the month so far after a restart;
// before the first, 1 % of the budget)
// and gives it back at its end, when its real cost is added. So a burst
// can overshoot a budget by at most what the requests in flight really
// cost beyond their estimates, never by the whole burst.
//
// The counters live outside the snapshot (budgetBook), so that a reload
// keeps them; a snapshot holds pointers to those of the budgets it
// configures, so the request path never looks anything up. Keys,
// providers and credentials without a budget hold none and pay nothing.
// Each counter has a small lock of its own, taken twice per request of a
// subject that has a budget.

// Budget names, as the API, BudgetStatus and the metric spell them.
const (
	BudgetMonthlyCost   = "monthly_cost"
	BudgetMonthlyTokens = "monthly_tokens"
	BudgetTotalCost     = "total_cost"
	// PeriodTotal is the Period of a total_cost budget.
	PeriodTotal = "total"
)

// BudgetStatus is one configured budget and what is used of it.
type BudgetStatus struct {
	Subject string    // "key:key_x", "provider:openai", "credential:cred_x"
	Name    string    // the subject's display name (a key's or credential's name, else its id; a provider's name)
	Budget  string    // BudgetMonthlyCost, BudgetMonthlyTokens or BudgetTotalCost
	Period  string    // "2026-12" (in the budgets' time zone) or PeriodTotal
	Used    float64   // USD or tokens
	Limit   float64   // USD or tokens
	Reset   time.Time // when the period ends; zero for total
}

// budgetCounter is one subject's use of one budget. It must not be copied.
type budgetCounter struct {
	subject, budget string
	loc             *time.Location // nil: a total, never reset

	mu        sync.Mutex
	period    string // "2026-12" or PeriodTotal
	periodEnd int64  // unix ns the month ends; 0: total
	used      float64
	reserved  float64 // estimates of the requests in flight
	counted   int64   // requests whose amount is known (since the counter was made)
	avg       float64 // moving average of their amounts
}

// roll starts a new month when the current one ended; mu held.
func (c *budgetCounter) roll(now int64) {
	if c.loc == nil || now < c.periodEnd {
		return
	}
	c.period, c.periodEnd = monthOf(time.Unix(0, now), c.loc)
	c.used = 0 // the average per request carries over: a new month starts warm
}

// monthOf is t's calendar month in loc ("2026-12") and when it ends.
func monthOf(t time.Time, loc *time.Location) (string, int64) {
	l := t.In(loc)
	next := time.Date(l.Year(), l.Month()+1, 1, 0, 0, 0, 0, loc)
	return l.Format("2006-01"), next.UnixNano()
}

// admit reserves an estimate of one request unless used and reserved
// reach limit already; refused, it says how far.
func (c *budgetCounter) admit(now int64, limit float64) (est float64, ok bool, used, inflight float64, end int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	if c.used+c.reserved >= limit {
		return 0, false, c.used, c.reserved, c.periodEnd
	}
	est = limit / 100
	if c.counted > 0 {
		est = c.avg
	}
	c.reserved += est
	return est, true, 0, 0, 0
}

// settle gives an admitted request's estimate back and adds its real
// amount; known tells whether the amount is real (it then moves the
// average) or unknown (nothing added).
func (c *budgetCounter) settle(now int64, est, amount float64, known bool) (used float64, end int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	c.reserved = max(c.reserved-est, 0)
	if known {
		c.used += amount
		c.counted++
		if c.counted == 1 {
			c.avg = amount
		} else {
			c.avg += (amount - c.avg) / min(float64(c.counted), 20) // the last ~20 requests
		}
	}
	return c.used, c.periodEnd
}

// usedNow is the counter's use in the current period.
func (c *budgetCounter) usedNow(now int64) (period string, used float64, end int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	return c.period, c.used, c.periodEnd
}

// budget is a configured budget in a snapshot (immutable) with its counter.
type budget struct {
	c       *budgetCounter
	limit   float64
	subject string // "key:key_x"
	what    string // "key", "provider", "credential": for messages
	name    string
	kind    string // BudgetMonthlyCost, …
	tokens  bool   // counts tokens, not USD
}

// budgetBook keeps every configured budget's counter across reloads.
type budgetBook struct {
	loc *time.Location
	// spent supplies a counter's use so far when it is created (at start-up
	// from the roll-ups, later from the traces written); nil: 0.
	spent func(subject, budget, period string) (used float64, requests int64)

	mu sync.Mutex                // configuration changes only
	m  map[string]*budgetCounter // by subject/kind
}

// get returns budget subject/kind with its counter, creating the counter
// (from what was spent so far) when the book has none yet.
func (bk *budgetBook) get(now time.Time, subject, what, name, kind string, limit float64) *budget {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	id := subject + "/" + kind
	c := bk.m[id]
	if c == nil {
		c = &budgetCounter{subject: subject, budget: kind}
		if kind == BudgetTotalCost {
			c.period = PeriodTotal
		} else {
			c.loc = bk.loc
			c.period, c.periodEnd = monthOf(now, bk.loc)
		}
		if bk.spent != nil {
			var n int64
			if c.used, n = bk.spent(subject, kind, c.period); n > 0 {
				// the average so far: a restart does not make the
				// estimates cold
				c.counted, c.avg = n, c.used/float64(n)
			}
		}
		if bk.m == nil {
			bk.m = make(map[string]*budgetCounter)
		}
		bk.m[id] = c
	}
	return &budget{c: c, limit: limit, subject: subject, what: what, name: name, kind: kind, tokens: kind == BudgetMonthlyTokens}
}

// drop forgets the counter of a budget that is no longer configured (set
// again, it starts from what the roll-ups say was spent).
func (bk *budgetBook) drop(id string) {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	delete(bk.m, id)
}

// keepOnly forgets every counter but those of the configured budgets.
func (bk *budgetBook) keepOnly(configured map[string]*budget) {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	for id := range bk.m {
		if configured[id] == nil {
			delete(bk.m, id)
		}
	}
}

// keyBudgets are a key's configured budgets (nil: none).
func keyBudgets(get func(subject, what, name, kind string, limit float64) *budget, k *store.Key) []*budget {
	var out []*budget
	subject := "key:" + k.ID
	name := k.Name
	if name == "" {
		name = k.ID
	}
	for _, b := range []*budget{
		get(subject, "key", name, BudgetMonthlyCost, k.MonthlyCost),
		get(subject, "key", name, BudgetMonthlyTokens, float64(k.MonthlyTokens)),
		get(subject, "key", name, BudgetTotalCost, k.TotalCost),
	} {
		if b != nil {
			out = append(out, b)
		}
	}
	return out
}

// budgetError is a request refused by a budget.
type budgetError struct {
	b              *budget
	used, inflight float64
	end            int64 // unix ns the period ends; 0: total
}

func (e *budgetError) Error() string {
	b := e.b
	spent := "spent "
	if b.tokens {
		spent = "used "
	}
	var sb strings.Builder
	sb.WriteString(b.what + " budget " + b.kind + " " + b.amount(b.limit))
	if e.used < b.limit {
		sb.WriteString(" is held by requests in flight (" + spent + b.amount(e.used) + ", " + b.amount(e.inflight) + " reserved); retry shortly")
		return sb.String()
	}
	sb.WriteString(" reached (" + spent + b.amount(e.used) + ")")
	if e.end == 0 {
		sb.WriteString("; a total budget does not reset: raise it to go on")
		return sb.String()
	}
	sb.WriteString("; resets " + time.Unix(0, e.end).In(b.c.loc).Format("2006-01-02T15:04Z07:00"))
	return sb.String()
}

// retryAfter is how long the refusal holds: until the month ends, a
// second when only requests in flight fill the budget, 0 (no Retry-After)
// for a total.
func (e *budgetError) retryAfter(now time.Time) time.Duration {
	switch {
	case e.used < e.b.limit:
		return time.Second
	case e.end == 0:
		return 0
	}
	return max(time.Unix(0, e.end).Sub(now), time.Second)
}

func (b *budget) amount(v float64) string {
	if b.tokens {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return fmtUSD(v)
}

// fmtUSD shows dollars with cents, and small amounts with the digits that
// tell them apart ($0.0042).
func fmtUSD(v float64) string {
	if v == 0 || v >= 0.1 {
		return "$" + strconv.FormatFloat(v, 'f', 2, 64)
	}
	prec := 2
	for x := v; x < 0.1 && prec < 9; x *= 10 {
		prec++
	}
	// Three significant digits, and at least two decimals ("0.00").
	s := strings.TrimRight(strconv.FormatFloat(v, 'f', prec+1, 64), "0")
	if len(s) < 4 {
		s += strings.Repeat("0", 4-len(s))
	}
	return "$" + s
}

// reservation is an admitted request's hold on one budget.
type reservation struct {
	b   *budget
	est float64
}

// budget admits the request against its key's and provider's budgets,
// and refuses a model without a price to a key whose unpriced is deny.
// Over a budget → 429 (with Retry-After but for a total budget).
func (x *exchange) budget() bool {
	k, pb := x.key, x.prov.budget
	if k.budgets == nil && pb == nil {
		return true
	}
	if k.budgets != nil && k.budgets.unpricedDeny && !x.priced() {
		return x.reject(fasthttp.StatusForbidden, "aigw: model "+strconv.Quote(x.requestModel())+
			" has no price, and this gateway key's cost budget refuses models without one (unpriced: deny)")
	}
	now := x.start
	var kb []*budget
	if k.budgets != nil {
		kb = k.budgets.list
	}
	for _, b := range kb {
		if !x.reserve(b, now) {
			return false
		}
	}
	if pb != nil {
		return x.reserve(pb, now)
	}
	return true
}

// priced reports whether the request's model has a price (a request that
// names no model, such as a model list, is not refused for it).
func (x *exchange) priced() bool {
	m := x.requestModel()
	if m == "" {
		return true
	}
	_, ok := x.p.prices.Load().Lookup(m)
	return ok
}

func (x *exchange) reserve(b *budget, now time.Time) bool {
	est, ok, used, inflight, end := b.c.admit(now.UnixNano(), b.limit)
	if ok {
		x.res[x.nres] = reservation{b: b, est: est}
		x.nres++
		return true
	}
	return x.overBudget(&budgetError{b: b, used: used, inflight: inflight, end: end})
}

// overBudget answers 429 for a budget, with Retry-After unless the budget
// never resets.
func (x *exchange) overBudget(e *budgetError) bool {
	if wait := e.retryAfter(x.start); wait > 0 {
		secs := int64((wait + time.Second - 1) / time.Second)
		x.ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	}
	return x.reject(fasthttp.StatusTooManyRequests, "aigw: "+e.Error())
}

// settleBudgets ends the request's reservations with what it used
// (accounted in t): tokens count whatever the price, cost only when known.
func (x *exchange) settleBudgets(t *store.Trace, now time.Time) {
	ns := now.UnixNano()
	for i := range x.nres {
		r := &x.res[i]
		x.settle(r, t, ns)
	}
	if x.credRes.b != nil {
		x.settle(&x.credRes, t, ns)
	}
}

func (x *exchange) settle(r *reservation, t *store.Trace, ns int64) {
	amount, known := 0.0, false
	if t != nil && x.cred != nil && t.Status > 0 && t.Status < 400 && t.UsageSource != store.UsageSourceNone {
		if r.b.tokens {
			amount, known = float64(t.PromptTokens+t.CompletionTokens), true
		} else {
			amount, known = t.CostUSD, t.CostKnown
		}
	}
	used, end := r.b.c.settle(ns, r.est, amount, known)
	if x.credRes.b == r.b && used >= r.b.limit && x.cred != nil {
		x.cred.health.BudgetExhausted(time.Unix(0, end), r.b.kind+" "+r.b.amount(r.b.limit)+" reached (spent "+r.b.amount(used)+")")
	}
}

// reserveCredential admits an attempt on cred against its budget. A
// credential whose month is spent leaves rotation until the month ends.
func (x *exchange) reserveCredential(cred *credential, now time.Time) *budgetError {
	b := cred.budget
	est, ok, used, inflight, end := b.c.admit(now.UnixNano(), b.limit)
	if ok {
		x.credRes = reservation{b: b, est: est}
		return nil
	}
	if used >= b.limit {
		cred.health.BudgetExhausted(time.Unix(0, end), b.kind+" "+b.amount(b.limit)+" reached (spent "+b.amount(used)+")")
	}
	return &budgetError{b: b, used: used, inflight: inflight, end: end}
}

// releaseCredential gives back a failed attempt's reservation.
func (x *exchange) releaseCredential(now time.Time) {
	if r := x.credRes; r.b != nil {
		r.b.c.settle(now.UnixNano(), r.est, 0, false)
		x.credRes = reservation{}
	}
}

// Budgets lists every configured budget with what is used of it, by
// subject and budget; cheap enough to call every few seconds.
func (p *Proxy) Budgets() []BudgetStatus {
	p.reload.Lock()
	bs := make([]*budget, 0, len(p.conf.budgets))
	for _, b := range p.conf.budgets {
		bs = append(bs, b)
	}
	p.reload.Unlock()
	return p.budgetStatus(bs)
}

// BudgetsOf is Budgets for the budgets of subjects ("key:ID",
// "provider:NAME", "credential:ID") alone.
func (p *Proxy) BudgetsOf(subjects []string) []BudgetStatus {
	var bs []*budget
	p.reload.Lock()
	for _, s := range subjects {
		for _, kind := range []string{BudgetMonthlyCost, BudgetMonthlyTokens, BudgetTotalCost} {
			if b := p.conf.budgets[s+"/"+kind]; b != nil {
				bs = append(bs, b)
			}
		}
	}
	p.reload.Unlock()
	return p.budgetStatus(bs)
}

func (p *Proxy) budgetStatus(bs []*budget) []BudgetStatus {
	ns := p.now().UnixNano()
	out := make([]BudgetStatus, 0, len(bs))
	for _, b := range bs {
		period, used, end := b.c.usedNow(ns)
		st := BudgetStatus{Subject: b.subject, Name: b.name, Budget: b.kind, Period: period, Used: used, Limit: b.limit}
		if end != 0 {
			st.Reset = time.Unix(0, end).UTC()
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b BudgetStatus) int {
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return strings.Compare(a.Budget, b.Budget)
	})
	return out
}

// markCredential takes a credential whose budget is spent out of rotation
// at a reload (the budget lowered, or spent before a restart), and puts
// one whose budget has room again back.
func (b *budget) markCredential(h *scheduler.Cred, now time.Time) {
	_, used, end := b.c.usedNow(now.UnixNano())
	if used >= b.limit {
		h.BudgetExhausted(time.Unix(0, end), b.kind+" "+b.amount(b.limit)+" reached (spent "+b.amount(used)+")")
		return
	}
	h.BudgetRestored("its monthly budget has room again")
}
