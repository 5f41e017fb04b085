package tracing

import (
	"sync"
	"time"

	"github.com/aigw/aigw/store"
)

// KeyDays keeps every key's tokens and cost of the current UTC day, from
// the roll-ups at start-up and then from each trace written. The proxy
// seeds a key's daily quota counters from it when it starts tracking the
// key, so neither a restart nor an eviction from its limiter cache resets
// a daily quota.
type KeyDays struct {
	mu     sync.Mutex
	day    int64 // UTC day index (unix seconds / 86400)
	totals map[string]store.DayTotals
	now    func() time.Time
}

// NewKeyDays starts from today's roll-ups (KeyTotalsForDay of the store).
func NewKeyDays(today map[string]store.DayTotals, now time.Time) *KeyDays {
	if today == nil {
		today = map[string]store.DayTotals{}
	}
	return &KeyDays{day: dayIndex(now), totals: today, now: time.Now}
}

func dayIndex(t time.Time) int64 { return t.Unix() / 86400 }

// Observe adds a written trace to its key's day.
func (k *KeyDays) Observe(t *store.Trace) {
	day := dayIndex(t.Time)
	k.mu.Lock()
	defer k.mu.Unlock()
	if day != k.day {
		if day < k.day {
			return // a trace from before midnight written after it
		}
		k.day, k.totals = day, map[string]store.DayTotals{}
	}
	d := k.totals[t.KeyID]
	d.Tokens += t.PromptTokens + t.CompletionTokens
	d.CostUSD += t.CostUSD
	k.totals[t.KeyID] = d
}

// Lookup is today's tokens and cost of key id.
func (k *KeyDays) Lookup(id string) (tokens int64, cost float64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.day != dayIndex(k.now()) {
		return 0, 0
	}
	d := k.totals[id]
	return d.Tokens, d.CostUSD
}
