package proxy

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
	"github.com/valyala/fasthttp"
)

// exchange is one request's state from arrival until its response body has
// been written. Pooled: everything is reset in finish.
//
// When the response is streamed, fasthttp reads the body through x (Read)
// after the handler returned, and calls CloseWithError once at the end —
// with the error that stopped the write, if any. ctx stays valid until
// then, but x does not touch it after respond.
type exchange struct {
	p      *Proxy
	ctx    *fasthttp.RequestCtx
	snap   *snapshot
	start  time.Time
	id     []byte
	idBuf  [16]byte
	numBuf [24]byte
	strBuf []byte // scratch for building the trace's strings (reused)
	rest   []byte // upstream path after the provider segment (aliases ctx)
	prov   *provider
	key    *gwKey
	pool   *keyPool            // the key's, in snap
	kstate *scheduler.KeyState // holds a concurrency slot when set
	trace  *store.Trace

	// Budgets (budget.go): the key's and provider's reservations, and the
	// credential's of the attempt answered.
	res     [4]reservation
	nres    uint8
	credRes reservation

	upReq    *fasthttp.Request
	upHeader *fasthttp.ResponseHeader // of the latest attempt's response
	up       upstreamBody             // its body, read straight off the connection
	path     []byte                   // reused buffer for the upstream request URI

	origin      []byte // the request's Origin header (aliases ctx)
	originKnown bool   // origin was noted while the headers were copied

	cred         *credential // the credential whose response is passed on
	trial        bool        // that attempt was a half-open probe
	reported     bool        // its outcome was already reported
	upstreamTime time.Duration
	overhead     time.Duration
	ttfb         time.Duration

	streaming bool
	body      []byte // a small answer read whole (reused)
	bytesOut  int64
	readErr   error // the upstream stream broke (not EOF)

	// Usage accounting: the scanner reads every byte of the answer on its
	// way through; with an injected include_usage it also filters the
	// stream (the extra usage chunk never reaches the client).
	api       usage.API
	injected  bool   // include_usage was added to the request
	reqBody   []byte // the rewritten request body (reused)
	inBody    []byte // the client's body as read (reused while small)
	bodyRead  bool   // inBody holds the whole body
	bodyHeld  int64  // bytes of Proxy.bodyMem this request holds
	writeSet  int64  // unix ns the client write deadline was last moved
	scanner   usage.Scanner
	format    usage.Format
	readBuf   []byte // upstream bytes waiting for the filter (reused)
	filterBuf []byte // filtered bytes (reused)
	pending   []byte // filtered bytes not yet handed to fasthttp
	upDone    bool   // the upstream body ended (filtered path)

	// The key's model allow-list (models.go).
	model      string // the request's model, once allowModel read it
	modelRead  bool
	listModels bool // a model list: its answer is filtered

	// Response pinning (pinning.go).
	pinID    []byte // the remembered response id the request names (aliases ctx)
	pinWatch bool   // the answer's response id is being looked for
	pinBuf   []byte // its first bytes, when the id did not come in one read
	pinReads uint8
}

// prepareUpstream builds the upstream request once; attempts only change
// its auth headers. The body is the client's, read once by fasthttp and
// bounded by MaxRequestBodySize, replayed as is on every attempt.
func (x *exchange) prepareUpstream() {
	ctx, up := x.ctx, x.prov.up
	req := fasthttp.AcquireRequest()
	x.upReq = req
	req.Header.SetMethodBytes(ctx.Method())
	req.Header.SetHostBytes(up.host)
	// The request line is written here rather than through a fasthttp.URI,
	// which would decode the path once more: the rest of the client's path
	// was decoded and cleaned of dot segments once (ctx.Path), and goes
	// upstream escaped again, so that "%252e%252e" stays the text "%2e%2e"
	// there and cannot climb out of the provider's base path.
	x.path = appendEscapedPath(append(x.path[:0], up.basePath...), up.trimVersion(x.rest))
	if len(x.path) == 0 {
		x.path = append(x.path, '/')
	}
	query := ctx.URI().QueryString()
	if args := ctx.QueryArgs(); args.Has("key") {
		args.Del("key") // the client's gateway key never goes upstream
		query = args.QueryString()
	}
	if len(query) > 0 {
		x.path = append(append(x.path, '?'), query...)
	}
	req.Header.SetRequestURIBytes(x.path)
	// Headers the client names in Connection are hop-by-hop as well.
	connNamed := ctx.Request.Header.Peek(fasthttp.HeaderConnection)
	for k, v := range ctx.Request.Header.All() {
		switch {
		case dropRequestHeader(k):
			if string(k) == fasthttp.HeaderOrigin && x.origin == nil {
				x.origin = v // for CORS, without another walk over the headers
			}
		case !validHeaderName(k), len(connNamed) > 0 && listsToken(connNamed, k):
		default:
			req.Header.AddBytesKV(k, v)
		}
	}
	x.originKnown = true
	for _, h := range x.prov.headers {
		if len(req.Header.PeekBytes(h.name)) == 0 {
			req.Header.SetBytesKV(h.name, h.value)
		}
	}
	body := ctx.Request.Body()
	x.api = usage.Detect(x.prov.typ, x.rest)
	if x.p.cfg.InjectStreamUsage && (x.api == usage.OpenAIChat || x.api == usage.OpenAICompletions) {
		// Without injection the body comes back as it went in (the client's
		// buffer, owned by fasthttp): only an injected copy is kept.
		if out, injected := usage.PrepareOpenAIStream(x.reqBody[:0], body); injected {
			x.reqBody, x.injected, body = out, true, out
		}
	}
	req.SetBodyRaw(body)
}

// allowOrigin lets the request's origin read the response, if CORS allows it.
func (x *exchange) allowOrigin() {
	origin := x.origin
	if !x.originKnown {
		origin = x.ctx.Request.Header.Peek(fasthttp.HeaderOrigin)
	}
	x.p.cors.allow(&x.ctx.Response.Header, origin)
}

// Read passes the upstream body on, through the usage scanner: what fill
// read, at most len(p) of it at a time. fasthttp reads the body through
// WriteTo; Read is what an io.Reader owes the others.
func (x *exchange) Read(p []byte) (int, error) {
	err := x.fill()
	if len(x.pending) == 0 {
		if err == nil {
			err = io.EOF // fill ended without bytes only at the body's end
		}
		return 0, err
	}
	return copy(p, x.take(len(p))), nil
}

// WriteTo passes the upstream body on to w, fasthttp's writer of a
// streamed answer (chunked, or of a known length above smallBody): what
// one upstream read brought goes out as one chunk in one write, where
// Read's callers would cut it at their 4 KiB buffer — two writes or more
// for each piece above that.
func (x *exchange) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		err := x.fill()
		if len(x.pending) > 0 {
			n, werr := w.Write(x.take(len(x.pending)))
			total += int64(n)
			if werr != nil {
				return total, werr
			}
		}
		if err != nil || x.upDone {
			return total, err
		}
	}
}

// SupportsBodyWriteTo tells fasthttp that WriteTo may replace Read.
func (x *exchange) SupportsBodyWriteTo() bool { return true }

// take hands out up to n bytes of what fill read (the first bytes of
// every stream, all of a filtered one: the stream minus the usage chunk
// aigw asked for), counted, with the write deadline moved for them.
func (x *exchange) take(n int) []byte {
	out := x.pending[:min(n, len(x.pending))]
	x.pending = x.pending[len(out):]
	x.bytesOut += int64(len(out))
	x.armWrite()
	return out
}

// fill reads the upstream until it has bytes for the client, the body
// ended (upDone) or broke. The filter holds an event until its end, so it
// may take several upstream reads. Bytes that came before a break are
// kept in pending: they go out before the error does.
func (x *exchange) fill() error {
	for len(x.pending) == 0 && !x.upDone {
		if cap(x.readBuf) == 0 {
			x.readBuf = make([]byte, 16<<10)
		}
		n, err := x.up.Read(x.readBuf[:cap(x.readBuf)])
		var out []byte
		if x.injected {
			out = x.scanner.Filter(x.filterBuf[:0], x.readBuf[:n])
		} else {
			x.scanner.Write(x.readBuf[:n])
			out = x.readBuf[:n]
			if x.pinWatch {
				x.noteResponse(out, err != nil)
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			x.readErr = err
			x.keepPending(out)
			return err
		}
		if err != nil {
			x.upDone = true
			if x.injected {
				out = x.scanner.Flush(out)
			}
		}
		x.keepPending(out)
	}
	return nil
}

func (x *exchange) keepPending(out []byte) {
	if x.injected {
		x.filterBuf = out[:0]
	}
	x.pending = out
}

// armWrite bounds the write of what Read just returned by WriteTimeout: a
// client that stops reading a stream loses it then, and with it its
// concurrency slot and the upstream connection. The deadline moves at most
// every WriteTimeout/16.
func (x *exchange) armWrite() {
	d := x.p.cfg.WriteTimeout
	if d <= 0 {
		return
	}
	now := time.Now()
	if ns := now.UnixNano(); ns-x.writeSet > int64(d/16) {
		x.writeSet = ns
		_ = x.ctx.SetWriteDeadline(now.Add(d))
	}
}

// CloseWithError ends a streamed response; werr is why writing stopped
// early (nil when the body was written whole).
func (x *exchange) CloseWithError(werr error) error {
	x.finish(werr)
	return nil
}

// finish accounts for the request and releases everything it held.
// werr is the error that stopped writing a streamed body.
func (x *exchange) finish(werr error) {
	now := x.p.now()
	if x.cred != nil && !x.reported {
		outcome, msg := scheduler.Success, ""
		switch {
		case x.readErr != nil:
			outcome, msg = scheduler.Failure, "upstream stream broke: "+x.readErr.Error()
		case werr != nil:
			outcome, msg = scheduler.Neutral, "client went away: "+werr.Error()
		}
		x.cred.health.Report(outcome, x.trial, x.ttfb, 0, msg)
		if x.trace != nil && msg != "" {
			x.trace.Error = msg
		}
	}
	// A body not read to its end closes its connection, which cancels the
	// upstream request.
	x.up.Close()
	if x.upReq != nil {
		fasthttp.ReleaseRequest(x.upReq)
	}
	if t := x.trace; t != nil {
		x.account(t, now)
	}
	if x.nres > 0 || x.credRes.b != nil {
		x.settleBudgets(x.trace, now)
	}
	if x.kstate != nil {
		x.kstate.Release()
	}
	if x.bodyHeld > 0 {
		x.p.bodyMem.Add(-x.bodyHeld)
	}
	if t := x.trace; t != nil {
		if x.cred != nil {
			t.CredentialID = x.cred.id
		}
		if x.pool != nil && x.pool.pool != nil {
			t.Strategy = x.pool.pool.Strategy().String()
		}
		t.LatencyMS = ms(now.Sub(x.start))
		t.TTFBMS = ms(x.ttfb)
		t.OverheadMS = ms(x.overhead)
		t.Retries = max(len(t.Attempts)-1, 0)
		t.BytesOut = x.bytesOut
		if x.p.rec != nil {
			x.p.rec.Record(t)
		}
	}
	x.p.inflight.Add(-1)
	x.reset()
	x.p.pool.Put(x)
}

// account reads the answer's usage into the trace, prices it, and charges
// the key's token and cost quotas.
func (x *exchange) account(t *store.Trace, now time.Time) {
	billed := x.api.Billed() || (x.api == usage.APIUnknown && string(t.Method) != "GET")
	t.Stream = x.format == usage.FormatSSE || (x.format == usage.FormatJSONArray && bytes.Contains(x.rest, streamMethod))
	if x.cred == nil || t.Status >= 400 || t.Status == 0 || !billed {
		// Nothing the provider bills: refused, failed, or not a billed endpoint.
		t.UsageSource, t.CostKnown = usage.SourceNone.String(), true
		t.Model = x.requestModel()
		return
	}
	u := x.scanner.Usage()
	if u.Model == "" {
		u.Model = x.requestModel()
	}
	t.Model = u.Model
	t.PromptTokens, t.CompletionTokens = u.PromptTokens, u.CompletionTokens
	t.CacheCreationTokens, t.CacheReadTokens, t.ReasoningTokens = u.CacheCreationTokens, u.CacheReadTokens, u.ReasoningTokens
	t.CacheWrite5mTokens, t.CacheWrite1hTokens = store.ClampInt32(u.CacheWrite5mTokens), store.ClampInt32(u.CacheWrite1hTokens)
	t.UsageSource = u.Source.String()
	t.CostUSD, t.CostKnown = x.p.prices.Load().Cost(u)
	if x.kstate != nil {
		x.kstate.Charge(now, u.PromptTokens+u.CompletionTokens, t.CostUSD)
	}
}

var streamMethod = []byte(":streamGenerateContent")

// requestModel is the model the client asked for: from the request body,
// or from the path for Gemini. (The request is still alive: fasthttp keeps
// it until the response, streamed or not, has been written.)
func (x *exchange) requestModel() string {
	if x.modelRead {
		return x.model
	}
	if x.prov == nil {
		return ""
	}
	if x.prov.typ == store.TypeGemini {
		return usage.ModelFromPath(x.rest)
	}
	if x.ctx == nil || !x.ctx.IsPost() || !x.bodyRead {
		return "" // a request refused before its body was read
	}
	return usage.RequestModel(x.ctx.Request.Body())
}

func (x *exchange) reset() {
	x.upHeader.Reset()
	p, path, h, body, strBuf := x.p, x.path[:0], x.upHeader, x.body[:0], shrink(x.strBuf)
	if cap(body) > smallBody {
		body = nil
	}
	reqBody, readBuf, filterBuf, inBody := shrink(x.reqBody), x.readBuf, shrink(x.filterBuf), shrink(x.inBody)
	*x = exchange{p: p, path: path, upHeader: h, body: body, reqBody: reqBody, readBuf: readBuf, filterBuf: filterBuf,
		inBody: inBody, strBuf: strBuf, scanner: x.scanner}
}

// shrink keeps a reused buffer unless one request made it large.
func shrink(b []byte) []byte {
	if cap(b) > 256<<10 {
		return nil
	}
	return b[:0]
}
