package proxy

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// cors answers browser preflights and marks responses readable by the
// configured origins. The gateway key, not a cookie, authenticates, so
// allowing an origin grants it nothing without a key.
type cors struct {
	any     bool
	origins [][]byte
}

func newCORS(origins []string) cors {
	var c cors
	for _, o := range origins {
		if o == "*" {
			c.any = true
		}
		c.origins = append(c.origins, []byte(o))
	}
	return c
}

var exposeHeaders = []byte("x-aigw-request-id, x-aigw-overhead-ms, retry-after, x-request-id, request-id")

// allow sets Access-Control-Allow-Origin on h when the request's origin
// (its Origin header, nil when absent) is allowed.
func (c *cors) allow(h *fasthttp.ResponseHeader, origin []byte) bool {
	if len(origin) == 0 {
		return false
	}
	if c.any {
		h.Set(fasthttp.HeaderAccessControlAllowOrigin, "*")
	} else {
		found := false
		for _, o := range c.origins {
			if bytes.Equal(o, origin) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
		h.SetBytesV(fasthttp.HeaderAccessControlAllowOrigin, origin)
		h.Add(fasthttp.HeaderVary, "Origin")
	}
	h.SetBytesV(fasthttp.HeaderAccessControlExposeHeaders, exposeHeaders)
	return true
}

// preflight answers an OPTIONS request without a key.
func (c *cors) preflight(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	if !c.allow(&ctx.Response.Header, ctx.Request.Header.Peek(fasthttp.HeaderOrigin)) {
		return
	}
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderAccessControlAllowMethods, "GET, POST, PUT, PATCH, DELETE, OPTIONS")
	if req := ctx.Request.Header.Peek(fasthttp.HeaderAccessControlRequestHeaders); len(req) > 0 {
		h.SetBytesV(fasthttp.HeaderAccessControlAllowHeaders, req)
	} else {
		h.Set(fasthttp.HeaderAccessControlAllowHeaders, "authorization, content-type, x-api-key, x-goog-api-key, anthropic-version, anthropic-beta")
	}
	h.Set(fasthttp.HeaderAccessControlMaxAge, "600")
}
