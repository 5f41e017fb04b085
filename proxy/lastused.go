package proxy

import (
	"time"
)

// Per-key "last used": each key's snapshot entry holds an atomic.Int64
// (unix ns of the last request that presented the key). The request path
// stores into it once (no lock, no database); the key's next version (a
// change of the configuration) starts from it, so the time survives a
// change; at start the gateway seeds it from the newest traces, so it
// survives a restart.

// KeyLastUsed is when key id was last presented to the proxy (ok false:
// never, or no such key).
func (p *Proxy) KeyLastUsed(id string) (t time.Time, ok bool) {
	p.reload.Lock()
	k := p.conf.keys[id]
	p.reload.Unlock()
	if k != nil {
		if ns := k.lastUsed.Load(); ns != 0 {
			return time.Unix(0, ns).UTC(), true
		}
	}
	return time.Time{}, false
}

// SeedLastUsed sets the keys' last use from an earlier run (the newest
// traces) where nothing newer is known.
func (p *Proxy) SeedLastUsed(seen map[string]time.Time) {
	p.reload.Lock()
	defer p.reload.Unlock()
	for id, t := range seen {
		k := p.conf.keys[id]
		if k == nil {
			continue
		}
		ns := t.UnixNano()
		for old := k.lastUsed.Load(); old < ns && !k.lastUsed.CompareAndSwap(old, ns); old = k.lastUsed.Load() {
		}
	}
}
