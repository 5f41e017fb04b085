package proxy

import (
	"errors"
	"io"
	"time"

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
	rest   []byte // upstream path after the provider segment (aliases ctx)
	prov   *provider
	key    *gwKey
	kstate *scheduler.KeyState // holds a concurrency slot when set
	trace  *store.Trace

	upReq    *fasthttp.Request
	upHeader *fasthttp.ResponseHeader // of the latest attempt's response
	up       upstreamBody             // its body, read straight off the connection
	path     []byte                   // reused buffer for the upstream path

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
}

// prepareUpstream builds the upstream request once; attempts only change
// its auth headers. The body is the client's, read once by fasthttp and
// bounded by MaxRequestBodySize, replayed as is on every attempt.
func (x *exchange) prepareUpstream() {
	ctx, up := x.ctx, x.prov.up
	req := fasthttp.AcquireRequest()
	x.upReq = req
	req.Header.SetMethodBytes(ctx.Method())
	uri := req.URI()
	uri.SetSchemeBytes(up.scheme)
	uri.SetHostBytes(up.host)
	x.path = append(append(x.path[:0], up.basePath...), x.rest...)
	if len(x.path) == 0 {
		x.path = append(x.path, '/')
	}
	uri.SetPathBytes(x.path)
	args := ctx.QueryArgs()
	if args.Has("key") {
		args.Del("key") // the client's gateway key never goes upstream
		uri.SetQueryStringBytes(args.QueryString())
	} else {
		uri.SetQueryStringBytes(ctx.URI().QueryString())
	}
	for k, v := range ctx.Request.Header.All() {
		if !dropRequestHeaders[string(k)] {
			req.Header.AddBytesKV(k, v)
		}
	}
	for _, h := range x.prov.headers {
		if len(req.Header.PeekBytes(h.name)) == 0 {
			req.Header.SetBytesKV(h.name, h.value)
		}
	}
	req.SetBodyRaw(ctx.Request.Body())
}

// Read passes the upstream body on to fasthttp's writer.
func (x *exchange) Read(p []byte) (int, error) {
	n, err := x.up.Read(p)
	x.bytesOut += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		x.readErr = err
	}
	return n, err
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
	if x.kstate != nil {
		x.kstate.Release()
	}
	if t := x.trace; t != nil {
		if x.cred != nil {
			t.CredentialID = x.cred.id
		}
		if x.key.pool != nil {
			t.Strategy = x.key.pool.Strategy().String()
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
	x.reset()
	x.p.pool.Put(x)
}

func (x *exchange) reset() {
	x.upHeader.Reset()
	p, path, h, body := x.p, x.path[:0], x.upHeader, x.body[:0]
	if cap(body) > smallBody {
		body = nil
	}
	*x = exchange{p: p, path: path, upHeader: h, body: body}
}
