package scheduler

import "time"

// PickAt offers the credential at pos to a request that only it can serve
// (the state the request names lives on its upstream account), whatever
// the pool's strategy: no other credential is offered in its place. It
// counts toward the credential's rpm like any pick; trial is true when the
// pick is its half-open probe (the caller must Report its outcome).
//
// When the credential cannot take the request now, ok is false and wait
// says for how long at least: until its cool-down ends (Cooling, Invalid),
// a second while another request holds its trial, until its own rpm limit
// lets one more in (Healthy); 0 when it is out until the operator acts
// (Disabled, Broken). State tells which.
func (p *Pool) PickAt(now time.Time, pos int) (trial, ok bool, wait time.Duration) {
	c := p.creds[pos]
	ns := now.UnixNano()
	if ok, trial = c.usable(ns); ok {
		c.rpm.Add(ns, 1)
		return trial, true, 0
	}
	switch State(c.state.Load()) {
	case Healthy:
		return false, false, c.rpm.wait(ns, c.rpmLimit.Load()) // at least a second
	case Cooling, Invalid:
		return false, false, max(time.Duration(c.until.Load()-ns), time.Second)
	}
	return false, false, 0
}
