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
// read the body → allow the model → budgets → attempts (choose a credential,
// rewrite, forward, classify) → respond.
// Accounting happens when the response body has been streamed (finish).
func (p *Proxy) handle(ctx *fasthttp.RequestCtx) {
	x := p.pool.Get().(*exchange)
	x.begin(ctx)
	if !x.route() || !x.authenticate() || !x.limit() || !x.readBody() || !x.allowModel() || !x.budget() {
		x.drainBody()
		x.finish(nil)
		return
	}
	if x.forward() {
		return // the body stream owns x now; fasthttp closes it when done
	}
	x.finish(nil)
}

// expectContinue decides for a client that waits for 100 Continue before
// it sends its body (curl does for bodies over 1 MiB): a request for an
// unknown provider or without a known gateway key is answered at once, so
// that the body is never sent; anything else continues to handle.
func (p *Proxy) expectContinue(ctx *fasthttp.RequestCtx) int {
	s := p.snap.Load()
	name, _ := splitProvider(ctx.Path())
	status, sh, msg := fasthttp.StatusContinue, shapeOpenAI, ""
	if pr := s.providers[string(name)]; pr == nil {
		status, sh = fasthttp.StatusNotFound, shapeFromRequest(&ctx.Request.Header, ctx.QueryArgs())
		msg = unknownProvider(name)
	} else if k, why := s.findKey(ctx); k == nil {
		status, sh, msg = fasthttp.StatusUnauthorized, pr.shape, why
	}
	if status != fasthttp.StatusContinue {
		var buf [16]byte
		now := p.now()
		id := p.ids.next(buf[:0], now)
		ctx.Response.Header.SetCanonical(hdrRequestID, id)
		writeError(ctx, sh, status, msg)
		why := refusedUnknownProvider
		if status == fasthttp.StatusUnauthorized {
			why = keyRefusal(msg)
		}
		p.traceRefusal(ctx, id, now, s.providers[string(name)], status, why, msg)
	}
	return status
}

// keyRefusal tells a missing key from an unknown one by findKey's message.
func keyRefusal(msg string) refusal {
	if msg == msgMissingKey {
		return refusedMissingKey
	}
	return refusedInvalidKey
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
		msg := unknownProvider(name)
		writeError(ctx, shapeFromRequest(&ctx.Request.Header, ctx.QueryArgs()), fasthttp.StatusNotFound, msg)
		x.p.traceRefusal(ctx, x.id, x.start, nil, fasthttp.StatusNotFound, refusedUnknownProvider, msg)
		return false
	}
	if ctx.IsOptions() {
		x.p.cors.preflight(ctx)
		return false
	}
	if !forwardedMethod(ctx.Method()) {
		// TRACE would echo the request, credential included; CONNECT and
		// made-up methods are nothing a provider's API answers.
		ctx.Response.Header.Set(fasthttp.HeaderAllow, allowedMethods)
		x.allowOrigin()
		const msg = "aigw: method not allowed (allowed: " + allowedMethods + ")"
		writeError(ctx, x.prov.shape, fasthttp.StatusMethodNotAllowed, msg)
		x.p.traceRefusal(ctx, x.id, x.start, x.prov, fasthttp.StatusMethodNotAllowed, refusedMethod, msg)
		return false
	}
	x.rest = rest
	return true
}

func unknownProvider(name []byte) string {
	return "aigw: unknown provider " + strconv.Quote(string(name)) + ": the first path segment must name a configured provider"
}

const allowedMethods = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"

// forwardedMethod reports whether a request method goes upstream.
func forwardedMethod(m []byte) bool {
	switch string(m) {
	case "POST", "GET", "DELETE", "PUT", "PATCH", "HEAD":
		return true
	}
	return false
}

// authenticate finds the gateway key where the provider's SDK sends it and
// looks its SHA-256 up in the snapshot. Only the hash is compared, so the
// lookup's timing says nothing about the secret.
func (x *exchange) authenticate() bool {
	k, why := x.snap.findKey(x.ctx)
	if k == nil {
		x.reject(fasthttp.StatusUnauthorized, why)
		x.p.traceRefusal(x.ctx, x.id, x.start, x.prov, fasthttp.StatusUnauthorized, keyRefusal(why), why)
		return false
	}
	var refused refusal
	switch {
	case k.revoked:
		why, refused = "gateway key revoked", refusedKeyRevoked
	case k.expiresAt != 0 && x.start.UnixNano() >= k.expiresAt:
		why, refused = "gateway key expired", refusedKeyExpired
	case k.provider != x.prov.name:
		why, refused = "gateway key is bound to another provider", refusedKeyOtherProvider
	}
	x.key, x.pool = k, x.snap.pools[k.pool]
	k.lastUsed.Store(x.start.UnixNano()) // presented: "last used", even if refused below
	if why == "" {
		x.trace = x.newTrace()
		return true
	}
	// The client learns only that the key is not good here; the trace and
	// the log line keep why (as many a second as refused traces may be).
	if x.p.admitKeyRefusal(refused, x.start) {
		x.trace = x.newTrace()
	}
	x.reject(fasthttp.StatusUnauthorized, msgInvalidKey)
	if x.trace != nil {
		x.trace.Error = "aigw: " + why
	}
	return false
}

// findKey looks up the gateway key the request carries; without one, why
// is the message for the client.
func (s *snapshot) findKey(ctx *fasthttp.RequestCtx) (k *gwKey, why string) {
	secret, _ := extractKey(&ctx.Request.Header, ctx.QueryArgs())
	if len(secret) == 0 {
		return nil, msgMissingKey
	}
	h := sha256.Sum256(secret)
	if k = s.keys.get(&h); k == nil {
		return nil, msgInvalidKey
	}
	return k, ""
}

const (
	msgInvalidKey = "aigw: invalid gateway key"
	msgMissingKey = "aigw: missing gateway key (send it as the provider's API key)"
)

// readBody reads the request body, now that the key was found good and
// within its limits: at most MaxBodySize, and only while all bodies held
// in memory stay within BodyMemory. fasthttp handed over the headers with
// at most a few KiB of the body (StreamRequestBody).
func (x *exchange) readBody() bool {
	if e := x.loadBody(); e != nil {
		if e.status == fasthttp.StatusServiceUnavailable {
			x.ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
		}
		return x.reject(e.status, e.msg)
	}
	return true
}

// bodyError is why a body could not be read: the answer to give.
type bodyError struct {
	status int
	msg    string
}

func (x *exchange) loadBody() *bodyError {
	req := &x.ctx.Request
	if x.bodyRead || !req.IsBodyStream() {
		x.bodyRead = true
		return nil
	}
	limit := x.p.cfg.MaxBodySize
	size := req.Header.ContentLength()
	if size > limit {
		return x.bodyTooLarge()
	}
	// Memory is reserved for the whole body when its length is known, and
	// in steps of bodyStep while a chunked body arrives.
	want := int64(size)
	if size < 0 {
		want = bodyStep
	}
	if e := x.holdBody(want); e != nil {
		return e
	}
	if size >= 0 {
		x.inBody = slices.Grow(x.inBody[:0], size)
	}
	buf := x.inBody[:0] // x.inBody keeps every growth, for reuse
	stream := req.BodyStream()
	for {
		if len(buf) == cap(buf) {
			if size >= 0 {
				break // Content-Length bytes read
			}
			if len(buf) >= limit {
				return x.bodyTooLarge()
			}
			grow := min(max(len(buf), bodyStep), limit+1-len(buf))
			if e := x.holdBody(int64(len(buf)+grow) - x.bodyHeld); e != nil {
				return e
			}
			buf = slices.Grow(buf, grow)
			x.inBody = buf
		}
		n, err := stream.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			if size >= 0 && len(buf) < size {
				err = io.ErrUnexpectedEOF
			} else {
				break
			}
		}
		if err != nil {
			x.ctx.SetConnectionClose()
			if isTimeout(err) {
				return &bodyError{fasthttp.StatusRequestTimeout, "aigw: timed out reading the request body"}
			}
			return &bodyError{fasthttp.StatusBadRequest, "aigw: could not read the request body: " + err.Error()}
		}
	}
	x.bodyRead = true
	if len(buf) > bigBody {
		x.p.bigBody.Add(int64(len(buf)))
	}
	req.SetBodyRaw(buf)
	return nil
}

func (x *exchange) bodyTooLarge() *bodyError {
	x.ctx.SetConnectionClose()
	return &bodyError{fasthttp.StatusRequestEntityTooLarge,
		"aigw: request body larger than " + strconv.Itoa(x.p.cfg.MaxBodySize) + " bytes (proxy.max_body_size)"}
}

// drainBody reads and drops what is left of a refused request's body, so
// that a client still sending it reads the answer rather than a reset
// connection. Nothing is kept. A stranger's body is drained up to 1 MiB,
// a known key's up to the body size limit; a longer one closes the
// connection instead.
func (x *exchange) drainBody() {
	req := &x.ctx.Request
	if x.bodyRead || !req.IsBodyStream() || x.ctx.Response.ConnectionClose() {
		return
	}
	limit := int64(drainStranger)
	if x.key != nil {
		limit = int64(x.p.cfg.MaxBodySize)
	}
	if int64(req.Header.ContentLength()) > limit {
		x.ctx.SetConnectionClose()
		return
	}
	if n, err := io.CopyN(io.Discard, req.BodyStream(), limit+1); n > limit || (err != nil && !errors.Is(err, io.EOF)) {
		x.ctx.SetConnectionClose()
	}
}

const drainStranger = 1 << 20

// bodyStep is the memory reserved at a time for a body of unknown length;
// bigBody the size above which a body's buffer is not kept for reuse.
const (
	bodyStep = 64 << 10
	bigBody  = 256 << 10
)

// holdBody reserves n more bytes of body memory, unless all bodies in
// flight already hold BodyMemory (503).
func (x *exchange) holdBody(n int64) *bodyError {
	if n <= 0 {
		return nil
	}
	if x.p.bodyMem.Add(n) > x.p.cfg.BodyMemory {
		x.p.bodyMem.Add(-n)
		return &bodyError{fasthttp.StatusServiceUnavailable, "aigw: too many large request bodies in flight (proxy.body_memory); retry shortly"}
	}
	x.bodyHeld += n
	return nil
}

// limit applies the key's limits: requests and tokens per minute, tokens
// and cost per UTC day, requests in flight. Over a limit → 429 with
// Retry-After.
func (x *exchange) limit() bool {
	k := x.key
	if k.limits == nil {
		return true
	}
	now := x.start
	st := x.p.keys.Get(k.id(), now)
	ns := now.UnixNano()
	l := k.limits
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
	// The key is known: its refused request is traced with its model, so
	// its body is read as any other (bounded), not just drained.
	x.loadBody()
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
	k, kp := x.key, x.pool
	if kp.pool == nil {
		x.reject(fasthttp.StatusServiceUnavailable, kp.noPool) // empty, or its provider or its strategy is broken
		return false
	}
	x.prepareUpstream()
	pin, ok := x.pinned()
	if !ok {
		return false
	}
	var affinity uint64
	if pin < 0 {
		affinity = x.affinity()
	}
	var tried, never scheduler.Tried
	var last error
	var lastOutcome scheduler.Outcome
	var spent *budgetError // a credential refused by its budget
	for attempt := 0; attempt <= int(k.maxRetries); attempt++ {
		began := x.p.now()
		pos, trial, ok, wait := x.pick(began, tried, never, affinity, pin)
		if !ok {
			switch {
			case last != nil:
				// nothing left to retry on: the last failure answers
			case spent != nil:
				x.overBudget(spent)
				return false
			case pin >= 0:
				return x.pinOut(pin, wait)
			default:
				x.reject(fasthttp.StatusServiceUnavailable, "aigw: no enabled credential in the key's pool")
				return false
			}
			break
		}
		cred := kp.creds[pos]
		if cred.budget != nil {
			if spent = x.reserveCredential(cred, began); spent != nil {
				if trial {
					cred.health.Report(scheduler.Neutral, true, 0, 0, "") // gives the half-open trial back
				}
				if pin >= 0 {
					x.overBudget(spent)
					return false
				}
				tried.Add(pos)
				never.Add(pos) // not an attempt: the next pick is not a retry
				attempt--
				continue
			}
		}
		if attempt > 0 {
			x.backoff(attempt, tried.Has(pos), lastOutcome)
		}
		tried.Add(pos)
		err := x.attempt(cred, began)
		if err != nil && cred.oauth {
			cred, err = x.renew(cred, err, &began)
		}
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
		x.releaseCredential(ended)
		if lastOutcome == scheduler.Rejected {
			never.Add(pos)
		}
		last = err
		x.cred, x.reported = cred, true // for the trace; its outcome is counted
	}
	x.failed(last)
	return x.streaming
}

// pick chooses the attempt's credential: the pinned one (pin ≥ 0, see
// pinned) and never another, else the key's strategy's choice.
func (x *exchange) pick(now time.Time, tried, never scheduler.Tried, affinity uint64, pin int) (pos int, trial, ok bool, wait time.Duration) {
	if pin >= 0 {
		trial, ok, wait = x.pool.pool.PickAt(now, pin)
		return pin, trial, ok, wait
	}
	pos, trial, ok = x.pool.pool.PickFor(now, tried, never, affinity)
	return pos, trial, ok, 0
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
	x.observeQuota(cred) // before the outcome is reported: a used-up window outranks a 429's cool-down
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
	case x.key.timeoutMs > 0:
		return time.Duration(x.key.timeoutMs) * time.Millisecond
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
	x.watchResponse()
	if x.listModels && up.StatusCode() == fasthttp.StatusOK {
		x.respondModelList()
		return
	}
	if x.up.Done() {
		return // no body
	}
	size := x.up.Size() // before any of it is read: Size is what is left
	if size >= 0 && size <= smallBody {
		// A small answer of known length is read whole and sent at once:
		// cheaper than a body stream, and nothing waits on it.
		x.body = slices.Grow(x.body[:0], size)[:size]
		n, err := io.ReadFull(&x.up, x.body)
		if err != nil {
			x.brokeOff(err)
			return
		}
		x.bytesOut = int64(n)
		x.scanner.Write(x.body)
		if x.pinWatch {
			x.noteResponse(x.body, true)
		}
		ctx.SetBody(x.body)
		return
	}
	// The first bytes are read before the answer is committed (fasthttp
	// sends the headers with them anyway): an answer that breaks before its
	// first byte still gets aigw's error, not a connection closed with
	// nothing on it.
	if err := x.fill(); err != nil && len(x.pending) == 0 {
		x.brokeOff(err)
		return
	}
	x.streaming = true
	ctx.Response.SetBodyStream(x, size)
}

// brokeOff answers for an upstream answer that broke before any of it was
// sent: aigw's error replaces it, headers included (the upstream's
// Content-Encoding or Content-Type would describe a body that is not
// there). A stall is a timeout (504), anything else 502.
func (x *exchange) brokeOff(err error) {
	x.readErr = err
	h := &x.ctx.Response.Header
	h.Reset()
	h.SetCanonical(hdrRequestID, x.id)
	h.SetCanonical(hdrOverhead, appendMillis(x.numBuf[:0], x.overhead))
	status := fasthttp.StatusBadGateway
	if isTimeout(err) {
		status = fasthttp.StatusGatewayTimeout
	}
	x.reject(status, "aigw: the upstream's answer broke off: "+err.Error())
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
		KeyID:      x.key.id(),
		KeyName:    x.key.name(),
		KeyPreview: x.key.preview(),
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
