package alerts

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
)

// checkBudgets raises, per budget, the highest threshold its use has
// reached in its period, once: a budget that jumps from 50 % to 120 %
// raises its 100 % alert alone.
func (m *Manager) checkBudgets() {
	if m.cfg.Budgets == nil {
		return
	}
	seen := map[string]bool{}
	for _, b := range m.cfg.Budgets() {
		a := store.Alert{Kind: KindBudget, Subject: b.Subject, Budget: b.Budget, Period: b.Period, Name: b.Name, Used: b.Used, Limit: b.Limit}
		seen[dedupKey(a)] = true
		if b.Limit <= 0 {
			continue
		}
		used := b.Used / b.Limit * 100
		for i := len(m.cfg.Thresholds) - 1; i >= 0; i-- {
			if t := m.cfg.Thresholds[i]; used >= t {
				a.Threshold = t
				break
			}
		}
		if a.Threshold == 0 {
			continue
		}
		who := b.Subject
		if b.Name != "" {
			who = fmt.Sprintf("%s (%s)", b.Subject, clip(b.Name))
		}
		a.Message = fmt.Sprintf("%s reached %s of its %s budget for %s: %s of %s", who, pct(a.Threshold), b.Budget, b.Period,
			amount(b.Budget, b.Used), amount(b.Budget, b.Limit))
		if !b.Reset.IsZero() {
			a.Message += "; it resets " + b.Reset.UTC().Format(time.RFC3339)
		}
		m.raise(a)
	}
	for k, f := range m.fired { // budgets that went away
		if strings.HasPrefix(k, KindBudget+"\x00") && !seen[k] && f.period != "" {
			delete(m.fired, k)
		}
	}
}

// amount shows a budget's figure: dollars with the digits that matter (a
// budget under a dollar would show as $0.00 with two decimals), or tokens.
func amount(budget string, v float64) string {
	if !strings.HasSuffix(budget, "_cost") {
		return fmt.Sprintf("%.0f", v)
	}
	if v == 0 || v >= 1 {
		return fmt.Sprintf("$%.2f", v)
	}
	return "$" + strings.TrimRight(strconv.FormatFloat(v, 'f', 6, 64), "0")
}

// checkPools raises a pool of active keys in which no credential is
// healthy (all cooling down, invalid, disabled, broken or out of quota):
// once for the pool, however many keys share it — with one key, the
// subject is that key; with more, the pool (its credentials).
func (m *Manager) checkPools() {
	if m.cfg.Pools == nil || m.cfg.Credentials == nil {
		return
	}
	states := map[string]string{}
	for _, s := range m.cfg.Credentials() {
		states[s.ID] = s.State
	}
	today := day(m.now())
	for _, p := range m.cfg.Pools() {
		if len(p.Credentials) == 0 {
			continue // refused at creation; nothing to watch
		}
		var why []string
		healthy := false
		for _, id := range p.Credentials {
			st := states[id]
			if st == "" {
				st = "unknown"
			}
			if st == scheduler.Healthy.String() {
				healthy = true
				break
			}
			if len(why) < 5 {
				why = append(why, id+" "+st)
			}
		}
		if healthy {
			continue
		}
		who := "key:" + p.Key
		if p.Name != "" {
			who += " (" + clip(p.Name) + ")"
		}
		subject, name := "key:"+p.Key, p.Name
		if p.Keys > 1 {
			subject, name = "pool:"+strings.Join(p.Credentials, "+"), ""
			who = fmt.Sprintf("%d keys (%s and %d more)", p.Keys, who, p.Keys-1)
		}
		msg := fmt.Sprintf("%s have no healthy credential in their pool: %s", who, strings.Join(why, ", "))
		if p.Keys <= 1 {
			msg = fmt.Sprintf("%s has no healthy credential in its pool: %s", who, strings.Join(why, ", "))
		}
		m.raise(store.Alert{Kind: KindPoolUnhealthy, Subject: subject, Name: name, Period: today, Message: msg})
	}
}

// checkTraces raises a trace writer that falls behind.
func (m *Manager) checkTraces() {
	if m.cfg.Pipeline == nil {
		return
	}
	s := m.cfg.Pipeline()
	queued := m.cfg.TracesQueued > 0 && s.Queued > m.cfg.TracesQueued
	lagging := m.cfg.TracesLag > 0 && s.Lag > m.cfg.TracesLag
	if !queued && !lagging {
		return
	}
	m.raise(store.Alert{Kind: KindTracesBehind, Subject: "traces", Period: day(m.now()),
		Message: fmt.Sprintf("the trace writer is falling behind: %d traces queued, the last batch waited %s", s.Queued, s.Lag.Round(time.Millisecond))})
}

// CredentialChanged hears the scheduler's state changes (the proxy's
// health hook). It may run on the request path: it never blocks.
func (m *Manager) CredentialChanged(c scheduler.Change) {
	if c.To == scheduler.Healthy {
		return
	}
	if c.To == scheduler.Invalid {
		m.hand(store.Alert{Kind: KindCredentialInvalid, Subject: "credential:" + c.Credential, Period: day(m.now()),
			Message: fmt.Sprintf("credential %s became invalid: %s", c.Credential, clip(c.Reason))})
	}
	select {
	case m.poke <- struct{}{}:
	default: // a check is already due
	}
}

// Observe hears every written trace (a tracing.Observer, on the trace
// writer's goroutine): a model used without a price is raised once per
// UTC day, for at most MaxUnpricedModels models a day.
func (m *Manager) Observe(t *store.Trace) {
	if t.CostKnown || t.Model == "" || t.UsageSource == "" || t.UsageSource == "none" {
		return
	}
	today := day(t.Time)
	if today != m.unpricedDay {
		m.unpricedDay = today
		clear(m.unpriced)
	}
	model := clip(t.Model)
	if m.unpriced[model] {
		return
	}
	if len(m.unpriced) >= m.cfg.MaxUnpricedModels {
		m.overModels.Add(1)
		return
	}
	a := store.Alert{Kind: KindModelUnpriced, Subject: "model:" + model, Period: today,
		Message: fmt.Sprintf("model %q was used without a price (provider %s): its cost is unknown; add it under [pricing]", model, clip(t.Provider))}
	if m.hand(a) {
		m.unpriced[model] = true // else the next trace tries again
	}
}
