package scheduler

import "time"

// BudgetExhausted is what Status and Change report while a credential's
// own monthly budget is spent (the proxy keeps the budget). Like
// Exhausted, it is never the credential's own state: it overlays that
// state until the month ends.
const BudgetExhausted State = Exhausted + 1

// BudgetExhausted takes c out of rotation until until, because its budget
// is spent; reason says which ("monthly_cost $200.00 reached (spent
// $200.13)"). A later call with the same until changes nothing.
func (c *Cred) BudgetExhausted(until time.Time, reason string) {
	u := until.UnixNano()
	old := c.budgetUntil.Load()
	if old == u {
		return
	}
	c.budgetWhy.Store(&reason) // before the mark, so that whoever sees the mark has the reason
	if c.budgetUntil.CompareAndSwap(old, u) && old <= c.h.now().UnixNano() {
		c.h.onChange(Change{Credential: c.ID, From: c.State(), To: BudgetExhausted, Until: until, Reason: reason})
	}
}

// BudgetRestored puts c back when its budget has room again (raised or
// removed by the operator).
func (c *Cred) BudgetRestored(reason string) {
	old := c.budgetUntil.Load()
	if old != 0 && c.budgetUntil.CompareAndSwap(old, 0) && old > c.h.now().UnixNano() {
		c.h.onChange(Change{Credential: c.ID, From: BudgetExhausted, To: c.State(), Reason: reason})
	}
}

// overBudget reports whether c's budget keeps it out at now; when the
// month has ended it clears the mark (once) and reports c back.
func (c *Cred) overBudget(now int64) bool {
	until := c.budgetUntil.Load()
	if until == 0 {
		return false // inlined: one load for a credential without a spent budget
	}
	if now < until {
		return true
	}
	if c.budgetUntil.CompareAndSwap(until, 0) {
		c.h.onChange(Change{Credential: c.ID, From: BudgetExhausted, To: c.State(), Reason: "a new budget month began"})
	}
	return false
}
