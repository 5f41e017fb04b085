package tracing

import (
	"strings"
	"sync"
	"time"

	"github.com/aigw/aigw/store"
)

// Spend keeps what every key, provider and credential used in the current
// budget month (in its time zone) and every key's total cost: from the
// roll-ups at start-up, then from each trace written. The proxy seeds a
// budget's counter from it when the counter is created (at start-up, or
// when the operator sets a budget), so neither a restart nor a new budget
// starts from zero. Its memory is bounded by the configuration: keys,
// providers and credentials are the operator's.
type Spend struct {
	loc *time.Location

	mu     sync.Mutex
	period string // "2026-12"
	t      store.SpendTotals
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
	period, _, _ := BudgetMonth(t.Time, s.loc)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case period < s.period:
		s.t.KeyTotalCost[t.KeyID] += t.CostUSD // last month's trace written now
		return
	case period > s.period:
		total := s.t.KeyTotalCost
		s.period, s.t = period, store.NewSpendTotals()
		s.t.KeyTotalCost = total
	}
	s.t.KeyTotalCost[t.KeyID] += t.CostUSD
	s.t.KeyCost[t.KeyID] += t.CostUSD
	s.t.KeyTokens[t.KeyID] += t.PromptTokens + t.CompletionTokens
	s.t.ProviderCost[t.Provider] += t.CostUSD
	if t.CredentialID != "" {
		s.t.CredentialCost[t.CredentialID] += t.CostUSD
	}
}

// Lookup is what subject ("key:key_x", "provider:openai",
// "credential:cred_x") used of budget ("monthly_cost", "monthly_tokens",
// "total_cost") in period ("2026-12", "total"); 0 for a month it does not
// hold.
func (s *Spend) Lookup(subject, budget, period string) float64 {
	kind, id, _ := strings.Cut(subject, ":")
	s.mu.Lock()
	defer s.mu.Unlock()
	if budget == "total_cost" {
		if kind == "key" {
			return s.t.KeyTotalCost[id]
		}
		return 0
	}
	if period != s.period {
		return 0
	}
	switch {
	case kind == "key" && budget == "monthly_tokens":
		return float64(s.t.KeyTokens[id])
	case budget != "monthly_cost":
		return 0
	case kind == "key":
		return s.t.KeyCost[id]
	case kind == "provider":
		return s.t.ProviderCost[id]
	case kind == "credential":
		return s.t.CredentialCost[id]
	}
	return 0
}
