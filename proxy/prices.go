package proxy

import "github.com/aigw/aigw/proxy/usage"

// SetPrices replaces the price table requests are priced with from now on
// (nil: the built-in table); a request that is being accounted keeps the
// table it read.
func (p *Proxy) SetPrices(t *usage.Prices) {
	if t == nil {
		t = usage.DefaultPrices()
	}
	p.prices.Store(t)
}

// Prices returns the price table in use.
func (p *Proxy) Prices() *usage.Prices { return p.prices.Load() }
