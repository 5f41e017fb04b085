package proxy

import (
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
	"github.com/valyala/fasthttp"
)

// handle serves one request, top to bottom: route → authenticate → limit →
// attempts (choose a credential, rewrite, forward, classify) → respond.
// Accounting happens when the response body has been streamed (finish).
func (p *Proxy) handle(ctx *fasthttp.RequestCtx) {
	x := p.pool.Get().(*exchange)
	x.begin(ctx)
	if !x.route() || !x.authenticate() || !x.limit() {
		x.finish(nil)
		return
	}
	if x.forward() {
		return // the body stream owns x now; fasthttp closes it when done
	}
	x.finish(nil)
}

// begin stamps the request with its id and the current snapshot.
func (x *exchange) begin(ctx *fasthttp.RequestCtx) {
	x.p.inflight.Add(1)
	x.ctx = ctx
	x.start = x.p.now()
	x.snap = x.p.snap.Load()
	x.id = x.p.ids.next(x.idBuf[:0], x.start)
	ctx.Response.Header.SetCanonical(hdrRequestID, x.id)
}

// route picks the provider from the first path segment; OPTIONS is a CORS
// preflight, answered without a key.
func (x *exchange) route() bool {
	ctx := x.ctx
	name, rest := splitProvider(ctx.Path())
	x.prov = x.snap.providers[string(name)]
	if x.prov == nil {
		x.allowOrigin()
		writeError(ctx, shapeFromRequest(&ctx.Request.Header, ctx.QueryArgs()), fasthttp.StatusNotFound,
			"aigw: unknown provider "+strconv.Quote(string(name))+": the first path segment must name a configured provider")
		return false
	}
	if ctx.IsOptions() {
		x.p.cors.preflight(ctx)
		return false
	}
	x.rest = rest
	return true
}

// authenticate finds the gateway key where the provider's SDK sends it and
// looks its SHA-256 up in the snapshot. Only the hash is compared, so the
// lookup's timing says nothing about the secret.
func (x *exchange) authenticate() bool {
	ctx := x.ctx
	secret, _ := extractKey(&ctx.Request.Header, ctx.QueryArgs())
	if len(secret) == 0 {
		return x.reject(fasthttp.StatusUnauthorized, "aigw: missing gateway key (send it as the provider's API key)")
	}
	k := x.snap.keys[sha256.Sum256(secret)]
	switch {
	case k == nil:
		return x.reject(fasthttp.StatusUnauthorized, "aigw: invalid gateway key")
	case k.revoked:
		return x.reject(fasthttp.StatusUnauthorized, "aigw: gateway key revoked")
	case k.expiresAt != 0 && x.start.UnixNano() >= k.expiresAt:
		return x.reject(fasthttp.StatusUnauthorized, "aigw: gateway key expired")
	case k.provider != x.prov:
		return x.reject(fasthttp.StatusUnauthorized, "aigw: gateway key is not valid for provider "+strconv.Quote(x.prov.name))
	}
	x.key = k
	x.trace = x.newTrace()
	return true
}

// limit applies the key's limits: requests and tokens per minute, tokens
// and cost per UTC day, requests in flight. Over a limit → 429 with
// Retry-After.
func (x *exchange) limit() bool {
	k := x.key
	if !k.limited {
		return true
	}
	now := x.start
	st := x.p.keys.Get(k.id, now)
	ns := now.UnixNano()
	l := &k.limits
	if ok, wait := st.RPM.Allow(ns, l.RPM); !ok {
		return x.limited(&limitedError{what: "requests per minute (" + strconv.FormatInt(l.RPM, 10) + ")", retryAfter: wait})
	}
	if over, wait := st.TPM.Over(ns, l.TPM); over {
		return x.limited(&limitedError{what: "tokens per minute (" + strconv.FormatInt(l.TPM, 10) + ")", retryAfter: wait})
	}
	if l.DailyTokens > 0 || l.DailyCost > 0 {
		tokens, cost := st.Daily(now)
		if l.DailyTokens > 0 && tokens >= l.DailyTokens {
			return x.limited(&limitedError{what: "tokens per day (" + strconv.FormatInt(l.DailyTokens, 10) + ")", retryAfter: scheduler.UntilTomorrow(now)})
		}
		if l.DailyCost > 0 && cost >= l.DailyCost {
			return x.limited(&limitedError{what: "cost per day ($" + strconv.FormatFloat(l.DailyCost, 'f', -1, 64) + ")", retryAfter: scheduler.UntilTomorrow(now)})
		}
	}
	if !st.Acquire(l.MaxConcurrency) {
		return x.limited(&limitedError{what: "concurrent requests (" + strconv.FormatInt(l.MaxConcurrency, 10) + ")", retryAfter: time.Second})
	}
	x.kstate = st
	return true
}

func (x *exchange) limited(e *limitedError) bool {
	secs := int64((e.retryAfter + time.Second - 1) / time.Second)
	x.ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(max(secs, 1), 10))
	return x.reject(fasthttp.StatusTooManyRequests, "aigw: "+e.Error())
}

// reject answers with aigw's own error in the provider's shape.
func (x *exchange) reject(status int, msg string) bool {
	x.allowOrigin()
	writeError(x.ctx, x.prov.shape, status, msg)
	if x.trace != nil {
		x.trace.Status = status
		x.trace.Error = msg
	}
	return false
}

// forward runs the attempt loop. It returns true when the response body
// is being streamed (x then belongs to the stream).
func (x *exchange) forward() bool {
	k := x.key
	if k.pool == nil {
		x.reject(fasthttp.StatusServiceUnavailable, "aigw: the key's credential pool is empty")
		return false
	}
	x.prepareUpstream()
	var tried, never scheduler.Tried
	var last error
	var lastOutcome scheduler.Outcome
	for attempt := 0; attempt <= k.maxRetries; attempt++ {
		began := x.p.now()
		pos, trial, ok := k.pool.Pick(began, tried, never)
		if !ok {
			if last == nil {
				x.reject(fasthttp.StatusServiceUnavailable, "aigw: no enabled credential in the key's pool")
				return false
			}
			break
		}
		if attempt > 0 {
			x.backoff(attempt, tried.Has(pos), lastOutcome)
		}
		tried.Add(pos)
		cred := k.creds[pos]
		err := x.attempt(cred, began)
		ended := x.p.now()
		took := ended.Sub(began)
		x.upstreamTime += took
		if err == nil {
			x.cred, x.trial, x.ttfb = cred, trial, ended.Sub(x.start)
			x.addAttempt(cred, nil, took)
			x.respond()
			return x.streaming
		}
		lastOutcome = outcomeOf(err)
		var ra time.Duration
		var se *upstreamStatusError
		if errors.As(err, &se) {
			ra = se.retryAfter
		}
		cred.health.Report(lastOutcome, trial, took, ra, err.Error())
		x.addAttempt(cred, err, took)
		if lastOutcome == scheduler.Rejected {
			never.Add(pos)
			if x.p.cfg.OnRejected != nil {
				x.p.cfg.OnRejected(cred.id)
			}
		}
		last = err
		x.cred, x.reported = cred, true // for the trace; its outcome is counted
	}
	x.failed(last)
	return x.streaming
}

// outcomeOf maps an attempt's error to what it means for the credential.
func outcomeOf(err error) scheduler.Outcome {
	var se *upstreamStatusError
	if errors.As(err, &se) {
		switch se.status {
		case 401, 403:
			return scheduler.Rejected
		case 429:
			return scheduler.RateLimited
		}
	}
	return scheduler.Failure
}

// backoff waits before a retry: exponential with jitter. Moving from a
// rejected or rate-limited credential to a fresh one needs no wait.
func (x *exchange) backoff(attempt int, reuse bool, last scheduler.Outcome) {
	if !reuse && (last == scheduler.Rejected || last == scheduler.RateLimited) {
		return
	}
	d := x.p.cfg.BackoffBase << (attempt - 1)
	if d <= 0 || d > x.p.cfg.BackoffMax {
		d = x.p.cfg.BackoffMax
	}
	if d <= 0 {
		return
	}
	time.Sleep(d/2 + rand.N(d/2+1))
}

// attempt sends the prepared request with cred's auth and classifies the
// answer: nil means a response to pass on (x.up.resp holds it).
func (x *exchange) attempt(cred *credential, now time.Time) error {
	req, h := x.upReq, x.upHeader
	for i, a := range x.prov.auth {
		req.Header.SetBytesKV(a.name, cred.authValues[i])
	}
	x.up.Close() // a previous attempt's answer is not wanted any more
	timeout := x.firstByteTimeout()
	if err := roundTrip(x.prov.up.conns, req, h, &x.up, now.Add(timeout), x.p.cfg.StreamIdle); err != nil {
		return classifyDo(err, timeout)
	}
	switch status := h.StatusCode(); {
	case status == 401, status == 403, status == 408, status >= 500:
		return &upstreamStatusError{status: status}
	case status == 429:
		return &upstreamStatusError{status: status, retryAfter: retryAfter(h.Peek(fasthttp.HeaderRetryAfter), now)}
	}
	return nil
}

// firstByteTimeout resolves key > provider > config.
func (x *exchange) firstByteTimeout() time.Duration {
	switch {
	case x.key.timeout > 0:
		return x.key.timeout
	case x.prov.timeout > 0:
		return x.prov.timeout
	}
	return x.p.cfg.FirstByteTimeout
}

// failed answers after the last attempt failed: the upstream's own 429 or
// 5xx answer is passed on as it is (it says the most), a refused
// credential becomes 502 (the client's key was fine), a timeout 504 and a
// broken connection 502.
func (x *exchange) failed(err error) {
	var se *upstreamStatusError
	var te *timeoutError
	switch {
	case errors.As(err, &se) && se.status != 401 && se.status != 403:
		x.respond()
	case errors.As(err, &se):
		x.reject(fasthttp.StatusBadGateway, "aigw: the upstream refused every credential tried ("+strconv.Itoa(se.status)+")")
	case errors.As(err, &te):
		x.reject(fasthttp.StatusGatewayTimeout, "aigw: "+err.Error())
	default:
		x.reject(fasthttp.StatusBadGateway, "aigw: "+err.Error())
	}
}

// respond passes the upstream's response on: status, headers (minus
// hop-by-hop ones), and the body as a stream read chunk by chunk.
func (x *exchange) respond() {
	ctx, up := x.ctx, x.upHeader
	ctx.SetStatusCode(up.StatusCode())
	h := &ctx.Response.Header
	// The upstream's header names are canonical already (fasthttp parsed
	// them with normalising on): copy them without normalising each again.
	h.DisableNormalizing()
	for k, v := range up.All() {
		if !dropResponseHeader(k) {
			h.AddBytesKV(k, v)
		}
	}
	h.EnableNormalizing()
	x.allowOrigin()
	overhead := x.p.now().Sub(x.start) - x.upstreamTime
	x.overhead = overhead
	h.SetCanonical(hdrOverhead, appendMillis(x.numBuf[:0], overhead))
	if x.trace != nil {
		x.trace.Status = up.StatusCode()
	}
	x.format = usage.FormatOf(up.ContentType(), x.api)
	x.scanner.Reset(x.api, x.format)
	x.scanner.StripInjectedUsage(x.injected)
	x.injected = x.injected && x.format == usage.FormatSSE
	if x.up.Done() {
		return // no body
	}
	if size := x.up.Size(); size >= 0 && size <= smallBody {
		// A small answer of known length is read whole and sent at once:
		// cheaper than a body stream, and nothing waits on it.
		x.body = slices.Grow(x.body[:0], size)[:size]
		n, err := io.ReadFull(&x.up, x.body)
		x.bytesOut = int64(n)
		if err != nil {
			x.readErr = err
			x.reject(fasthttp.StatusBadGateway, "aigw: the upstream's answer broke off: "+err.Error())
			return
		}
		x.scanner.Write(x.body)
		ctx.SetBody(x.body)
		return
	}
	x.streaming = true
	ctx.Response.SetBodyStream(x, x.up.Size())
}

// smallBody is the largest answer of known length read whole before it is
// sent; larger ones, and every answer of unknown length (streams), go out
// as they arrive.
const smallBody = 64 << 10

// aigw's own response headers, in the canonical form fasthttp would give
// them (SetCanonical skips normalising the name on every response).
var (
	hdrRequestID = []byte("X-Aigw-Request-Id")
	hdrOverhead  = []byte("X-Aigw-Overhead-Ms")
)

// appendMillis appends d in milliseconds with three decimals (microseconds).
func appendMillis(b []byte, d time.Duration) []byte {
	us := max(d.Microseconds(), 0)
	b = strconv.AppendInt(b, us/1000, 10)
	f := us % 1000
	return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// tracedRequest is a trace with room for its first attempt, so that the
// usual request allocates both at once.
type tracedRequest struct {
	trace store.Trace
	first [1]store.Attempt
}

func (x *exchange) newTrace() *store.Trace {
	r := &tracedRequest{}
	// The request id and the path (cut to usage.MaxPath) share one allocation.
	x.strBuf = usage.AppendCut(append(x.strBuf[:0], x.id...), x.rest, usage.MaxPath)
	idPath := string(x.strBuf)
	r.trace = store.Trace{
		RequestID:  idPath[:len(x.id)],
		Time:       x.start.UTC(),
		KeyID:      x.key.id,
		KeyName:    x.key.name,
		KeyPreview: x.key.preview,
		Provider:   x.prov.name,
		Method:     methodString(x.ctx.Method()),
		Path:       idPath[len(x.id):],
		Attempts:   r.first[:0],
	}
	return &r.trace
}

func (x *exchange) addAttempt(cred *credential, err error, took time.Duration) {
	if x.trace == nil {
		return
	}
	a := store.Attempt{CredentialID: cred.id, LatencyMS: ms(took)}
	if err != nil {
		a.Error = err.Error()
		var se *upstreamStatusError
		if errors.As(err, &se) {
			a.Status = se.status
		}
	} else {
		a.Status = x.upHeader.StatusCode()
	}
	x.trace.Attempts = append(x.trace.Attempts, a)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// methodString avoids an allocation for the usual methods.
func methodString(m []byte) string {
	switch string(m) {
	case "POST":
		return "POST"
	case "GET":
		return "GET"
	case "DELETE":
		return "DELETE"
	case "PUT":
		return "PUT"
	}
	return string(m)
}
