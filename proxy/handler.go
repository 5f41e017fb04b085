package proxy

import (
	"github.com/valyala/fasthttp"
)

// handle serves one request.
func (p *Proxy) handle(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusNotFound)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"error":{"message":"unknown provider","type":"invalid_request_error","code":"unknown_provider"}}`)
}
