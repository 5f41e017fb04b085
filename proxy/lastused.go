package proxy

import (
	"sync/atomic"
	"time"
)

// Per-key "last used": each key's snapshot entry holds a pointer to one
// atomic.Int64 (unix ns of the last request that presented the key). The
// request path stores into it once (no lock, no database); a rebuilt
// snapshot hands the same pointer to the key's new entry, so the time
// survives a configuration change; at start the gateway seeds it from the
// newest traces, so it survives a restart.

// lastUsedOf is the time cell for key id in the snapshot being built: the
// previous snapshot's when the key was there, else a new one.
func lastUsedOf(id string, previous *snapshot) *atomic.Int64 {
	if previous != nil {
		if a := previous.used[id]; a != nil {
			return a
		}
	}
	return new(atomic.Int64)
}

// KeysLastUsed is when each key of the configuration was last presented
// to the proxy; keys never used are absent.
func (p *Proxy) KeysLastUsed() map[string]time.Time {
	s := p.snap.Load()
	out := make(map[string]time.Time, len(s.used))
	for id, a := range s.used {
		if ns := a.Load(); ns != 0 {
			out[id] = time.Unix(0, ns).UTC()
		}
	}
	return out
}

// KeyLastUsed is when key id was last presented to the proxy (ok false:
// never, or no such key).
func (p *Proxy) KeyLastUsed(id string) (t time.Time, ok bool) {
	if a := p.snap.Load().used[id]; a != nil {
		if ns := a.Load(); ns != 0 {
			return time.Unix(0, ns).UTC(), true
		}
	}
	return time.Time{}, false
}

// SeedLastUsed sets the keys' last use from an earlier run (the newest
// traces) where nothing newer is known.
func (p *Proxy) SeedLastUsed(seen map[string]time.Time) {
	s := p.snap.Load()
	for id, t := range seen {
		a := s.used[id]
		if a == nil {
			continue
		}
		ns := t.UnixNano()
		for old := a.Load(); old < ns && !a.CompareAndSwap(old, ns); old = a.Load() {
		}
	}
}
