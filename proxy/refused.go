package proxy

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/store"
	"github.com/valyala/fasthttp"
)

// A request refused before any good gateway key was found — no key, an
// unknown, revoked or expired one, an unknown provider, a request aigw
// could not read — is traced too, so that "my app gets 401" can be
// debugged from the traces, but a stranger decides how many of those
// arrive: at most refusals.perSec are traced (and logged) a second, the
// rest are only counted, exactly, by reason (aigw_proxy_refused_total).

// refusal is why a request was refused before a good key was found.
type refusal uint8

const (
	refusedMissingKey refusal = iota
	refusedInvalidKey
	refusedKeyRevoked
	refusedKeyExpired
	refusedKeyOtherProvider
	refusedUnknownProvider
	refusedMethod
	refusedUnreadable // 400, 408, 413 or 431 from fasthttp, before the handler
	numRefusals
)

// RefusalReasons names each refusal, for /metrics (the reason label of
// aigw_proxy_refused_total).
var RefusalReasons = [numRefusals]string{"missing_key", "invalid_key", "key_revoked", "key_expired",
	"key_other_provider", "unknown_provider", "method", "unreadable"}

// DefaultRefusedTraces is how many refused requests are traced a second
// when Config.RefusedTraces is 0.
const DefaultRefusedTraces = 50

// refusals counts refused requests and admits a bounded number a second to
// the traces. Lock-free: one window per second, reset by whoever sees the
// second change first.
type refusals struct {
	perSec   int64
	sec      atomic.Int64 // the current window's unix second
	n        atomic.Int64 // traces admitted in it
	untraced atomic.Uint64
	pending  atomic.Uint64 // untraced since the last log line
	nextLog  atomic.Int64  // unix ns before which untraced ones are only counted
	count    [numRefusals]atomic.Uint64
}

// admit reports whether one more refused request may be traced now.
func (r *refusals) admit(now time.Time) bool {
	if r.perSec <= 0 {
		r.untraced.Add(1)
		return false
	}
	s := now.Unix()
	if cur := r.sec.Load(); cur != s && r.sec.CompareAndSwap(cur, s) {
		r.n.Store(0)
	}
	if r.n.Add(1) <= r.perSec {
		return true
	}
	r.untraced.Add(1)
	r.pending.Add(1)
	return false
}

// RefusalStats are the counters of refused requests, for /metrics.
type RefusalStats struct {
	ByReason [numRefusals]uint64 // every refused request, by RefusalReasons
	Untraced uint64              // of those, not traced (over proxy.refused_traces a second)
}

// RefusalStats reports the refused requests' counters.
func (p *Proxy) RefusalStats() RefusalStats {
	var s RefusalStats
	for i := range s.ByReason {
		s.ByReason[i] = p.refused.count[i].Load()
	}
	s.Untraced = p.refused.untraced.Load()
	return s
}

// traceRefusal counts a request refused before any gateway key matched,
// and traces it when the second's budget allows. id is the request id the
// client was given.
func (p *Proxy) traceRefusal(ctx *fasthttp.RequestCtx, id []byte, start time.Time, prov *provider, status int, why refusal, msg string) {
	p.refused.count[why].Add(1)
	if p.rec == nil || !p.refused.admit(start) {
		p.logUntraced(start)
		return
	}
	path := ctx.Path()
	t := &store.Trace{
		RequestID:   string(id),
		Time:        start.UTC(),
		KeyPreview:  presentedPreview(ctx),
		Method:      methodString(ctx.Method()),
		Status:      status,
		UsageSource: usage.SourceNone.String(),
		CostKnown:   true,
		Error:       msg,
		LatencyMS:   ms(p.now().Sub(start)),
	}
	if prov != nil {
		t.Provider = prov.name
		_, path = splitProvider(path)
	}
	t.Path = string(usage.AppendCut(nil, path, usage.MaxPath))
	p.rec.Record(t)
}

// admitKeyRefusal counts a request refused for its (known) key and says
// whether its trace may be written.
func (p *Proxy) admitKeyRefusal(why refusal, now time.Time) bool {
	p.refused.count[why].Add(1)
	if p.refused.admit(now) {
		return true
	}
	p.logUntraced(now)
	return false
}

// logUntraced says, at most every 10 seconds, how many refused requests
// went untraced since it last said so.
func (p *Proxy) logUntraced(now time.Time) {
	r := &p.refused
	next := r.nextLog.Load()
	if now.UnixNano() < next || !r.nextLog.CompareAndSwap(next, now.UnixNano()+int64(10*time.Second)) {
		return
	}
	if n := r.pending.Swap(0); n > 0 {
		p.log.Warn("proxy: refused requests over proxy.refused_traces a second were counted but not traced",
			"untraced", n, "per_second", r.perSec)
	}
}

// presentedPreview shows the key a refused request carried without
// revealing it: an aigw key keeps its prefix and 4 characters, as stored
// keys' previews do ("aigw_AbCd…"); anything else only its first 3
// characters and its length ("sk-… (51 chars)"), which tells an operator
// that the application sends its provider key instead of a gateway key.
// Characters outside printable ASCII show as '?'.
func presentedPreview(ctx *fasthttp.RequestCtx) string {
	secret, _ := extractKey(&ctx.Request.Header, ctx.QueryArgs())
	if len(secret) == 0 {
		return ""
	}
	var b []byte
	switch n := len(store.KeySecretPrefix) + 4; {
	case len(secret) > n && string(secret[:len(store.KeySecretPrefix)]) == store.KeySecretPrefix:
		b = appendPrintable(b, secret[:n])
		b = append(b, "…"...)
	case len(secret) >= 12:
		b = appendPrintable(b, secret[:3])
		b = append(b, "… ("...)
		b = strconv.AppendInt(b, int64(len(secret)), 10)
		b = append(b, " chars)"...)
	default:
		b = append(b, "… ("...)
		b = strconv.AppendInt(b, int64(len(secret)), 10)
		b = append(b, " chars)"...)
	}
	return string(b)
}

func appendPrintable(b, s []byte) []byte {
	for _, c := range s {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}
