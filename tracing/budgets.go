package tracing

import (
	"strings"
	"sync"
	"time"

	"github.com/aigw/aigw/store"
)

// Spend keeps what every key, provider and credential used in the current
// budget month (in its time zone) and every key's total: from the roll-ups
// at start-up, then from each trace written. The proxy seeds a budget's
// counter from it when the counter is created (at start-up, or when the
// operator sets a budget), so neither a restart nor a new budget starts
// from zero, nor from no idea of what a request costs. Its memory is
// bounded by the configuration: keys, providers and credentials are the
// operator's.
type Spend struct {
	loc *time.Location

	mu     sync.Mutex
	period string // "2026-12"
	t      store.SpendTotals
	// from, to bound the last month a trace fell in (unix ns), so that a
	// trace of that month needs no calendar work.
	from, to int64
	last     string
}

// BudgetMonth is t's calendar month in loc ("2026-12"), its first and last
// day as YYYY-MM-DD (for the roll-ups, which are per UTC day).
func BudgetMonth(t time.Time, loc *time.Location) (period, first, last string) {
	l := t.In(loc)
	start := time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, loc)
	end := start.AddDate(0, 1, -1)
	return l.Format("2006-01"), start.Format("2006-01-02"), end.Format("2006-01-02")
}

// NewSpend rebuilds the current month's figures from the roll-ups. With a
// time zone other than UTC the roll-ups' UTC days are counted by their
// date, so up to the zone's offset of the month's first and last hours
// may be counted in the neighbouring month after a restart.
func NewSpend(st *store.Store, loc *time.Location, now time.Time) (*Spend, error) {
	period, first, last := BudgetMonth(now, loc)
	t, err := st.Spend(first, last)
	if err != nil {
		return nil, err
	}
	return &Spend{loc: loc, period: period, t: t}, nil
}

// Observe adds a written trace.
func (s *Spend) Observe(t *store.Trace) {
	if t.KeyID == "" {
		return // refused before a key matched: nobody's budget
	}
	add := func(m map[string]store.Spent, id string) {
		sp := m[id]
		sp.Add(t)
		m[id] = sp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	period := s.monthOf(t.Time)
	add(s.t.KeyTotals, t.KeyID)
	switch {
	case period < s.period:
		return // last month's trace written now
	case period > s.period:
		totals := s.t.KeyTotals
		s.period, s.t = period, store.NewSpendTotals()
		s.t.KeyTotals = totals
	}
	add(s.t.Keys, t.KeyID)
	add(s.t.Providers, t.Provider)
	if t.CredentialID != "" {
		add(s.t.Credentials, t.CredentialID)
	}
}

// monthOf is BudgetMonth's period of t, remembered for the month it falls
// in (nearly every trace falls in the same month as the one before); mu held.
func (s *Spend) monthOf(t time.Time) string {
	if ns := t.UnixNano(); ns >= s.from && ns < s.to {
		return s.last
	}
	l := t.In(s.loc)
	start := time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, s.loc)
	s.from, s.to, s.last = start.UnixNano(), start.AddDate(0, 1, 0).UnixNano(), l.Format("2006-01")
	return s.last
}

// Lookup is what subject ("key:key_x", "provider:openai",
// "credential:cred_x") used of budget ("monthly_cost", "monthly_tokens",
// "total_cost") in period ("2026-12", "total"), and how many requests that
// is (for the average per request); 0, 0 for a month it does not hold.
func (s *Spend) Lookup(subject, budget, period string) (used float64, requests int64) {
	kind, id, _ := strings.Cut(subject, ":")
	s.mu.Lock()
	defer s.mu.Unlock()
	var sp store.Spent
	switch {
	case budget == "total_cost" && kind == "key":
		sp = s.t.KeyTotals[id]
	case budget == "total_cost" || period != s.period:
		return 0, 0
	case kind == "key":
		sp = s.t.Keys[id]
	case kind == "provider":
		sp = s.t.Providers[id]
	case kind == "credential":
		sp = s.t.Credentials[id]
	}
	if budget == "monthly_tokens" {
		return float64(sp.Tokens), sp.OK
	}
	return sp.CostUSD, sp.Priced
}
