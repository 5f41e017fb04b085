package metrics

import (
	"github.com/aigw/aigw/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Per-credential and per-key prompt tokens, so that the cache-read share of
// each (cache_read / prompt) can be graphed:
//
//	aigw_credential_tokens_total{credential, kind}   kind: prompt, cache_read, cache_creation
//	aigw_key_tokens_total{key, kind}
//
// prompt counts every prompt-side token (cache reads and writes included,
// whatever the provider; see store.UsageRow.CacheReadShare), so
//
//	rate(aigw_credential_tokens_total{kind="cache_read"}[5m])
//	  / rate(aigw_credential_tokens_total{kind="prompt"}[5m])
//
// is the share over the last five minutes. Credentials and keys are the
// operator's, not the clients', but an operator may hold 100,000 keys: the
// first MaxShareSeries credentials and the first MaxShareSeries keys seen
// by this process get their own series, later ones count under
// credential="other" / key="other" (totals stay exact). Which ones get a
// series is first come, first served, and may differ after a restart;
// `aigw usage --by key|credential` has every one of them.
const (
	MaxShareSeries = 1000
	OtherLabel     = "other"
)

// shareCounters are the token counters of one credential or key.
type shareCounters struct {
	prompt, cacheRead, cacheCreation prometheus.Counter
}

// shareVec is one of the two counter families with its bounded children.
// Only Observe (one goroutine) uses it: no lock.
type shareVec struct {
	vec      *prometheus.CounterVec
	children map[string]*shareCounters // at most MaxShareSeries + 1 (other)
}

func newShareVec(name, help, label string) *shareVec {
	return &shareVec{
		vec:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label, "kind"}),
		children: map[string]*shareCounters{},
	}
}

// add counts t's prompt-side tokens under id ("" is not counted).
func (v *shareVec) add(id string, t *store.Trace) {
	if id == "" {
		return
	}
	c := v.children[id]
	if c == nil {
		if len(v.children) >= MaxShareSeries {
			id = OtherLabel
			c = v.children[id]
		}
		if c == nil {
			c = &shareCounters{prompt: v.vec.WithLabelValues(id, "prompt"), cacheRead: v.vec.WithLabelValues(id, "cache_read"),
				cacheCreation: v.vec.WithLabelValues(id, "cache_creation")}
			v.children[id] = c
		}
	}
	c.prompt.Add(float64(t.PromptTokens))
	c.cacheRead.Add(float64(t.CacheReadTokens))
	c.cacheCreation.Add(float64(t.CacheCreationTokens))
}

// shares are the per-credential and per-key counters.
type shares struct {
	creds, keys *shareVec
}

func newShares() shares {
	return shares{
		creds: newShareVec("aigw_credential_tokens_total",
			"Prompt-side tokens by credential and kind (prompt: all of them, cache reads and writes included; cache_read; cache_creation).", "credential"),
		keys: newShareVec("aigw_key_tokens_total",
			"Prompt-side tokens by gateway key and kind (prompt, cache_read, cache_creation); keys past the first 1000 count as key=\"other\".", "key"),
	}
}

func (s shares) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.creds.vec, s.keys.vec}
}

// observe counts a trace with prompt tokens under its credential and key.
func (s shares) observe(t *store.Trace) {
	if t.PromptTokens <= 0 && t.CacheReadTokens <= 0 && t.CacheCreationTokens <= 0 {
		return
	}
	s.creds.add(t.CredentialID, t)
	s.keys.add(t.KeyID, t)
}
