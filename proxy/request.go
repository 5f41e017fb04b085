package proxy

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// splitProvider cuts a normalised request path "/{provider}/{rest}" into
// the provider name and the rest (which keeps its leading slash, or is
// empty). fasthttp has already decoded the path and removed "." and ".."
// segments, so the rest cannot climb above the provider's base path.
func splitProvider(path []byte) (name, rest []byte) {
	if len(path) == 0 || path[0] != '/' {
		return nil, nil
	}
	path = path[1:]
	if i := bytes.IndexByte(path, '/'); i >= 0 {
		return path[:i], path[i:]
	}
	return path, nil
}

var (
	bearerPrefix = []byte("Bearer ")
	keyPrefix    = []byte("aigw_")
	argKey       = []byte("key")
)

// keySource records where the gateway key came from.
type keySource uint8

const (
	keyNone keySource = iota
	keyAuthorization
	keyXAPIKey
	keyXGoogAPIKey
	keyQuery
)

// extractKey finds the gateway key where the provider's SDK puts it:
// Authorization: Bearer (OpenAI), x-api-key (Anthropic), x-goog-api-key
// (Gemini), or the key query parameter (Gemini REST). When several are
// present, the first that looks like an aigw key wins, else the first.
// The returned slice aliases the request and dies with it.
func extractKey(h *fasthttp.RequestHeader, args *fasthttp.Args) ([]byte, keySource) {
	var first []byte
	firstSrc := keyNone
	consider := func(v []byte, src keySource) bool {
		v = bytes.TrimSpace(v)
		if len(v) == 0 {
			return false
		}
		if bytes.HasPrefix(v, keyPrefix) {
			first, firstSrc = v, src
			return true
		}
		if firstSrc == keyNone {
			first, firstSrc = v, src
		}
		return false
	}
	if auth := h.Peek(fasthttp.HeaderAuthorization); len(auth) > len(bearerPrefix) && bytes.EqualFold(auth[:len(bearerPrefix)], bearerPrefix) {
		if consider(auth[len(bearerPrefix):], keyAuthorization) {
			return first, firstSrc
		}
	}
	if consider(h.Peek("X-Api-Key"), keyXAPIKey) {
		return first, firstSrc
	}
	if consider(h.Peek("X-Goog-Api-Key"), keyXGoogAPIKey) {
		return first, firstSrc
	}
	if args != nil && consider(args.PeekBytes(argKey), keyQuery) {
		return first, firstSrc
	}
	return first, firstSrc
}

// shapeFromRequest guesses the error shape for a request whose provider is
// unknown, from how its SDK authenticates.
func shapeFromRequest(h *fasthttp.RequestHeader, args *fasthttp.Args) shape {
	switch _, src := extractKey(h, args); src {
	case keyXAPIKey:
		return shapeAnthropic
	case keyXGoogAPIKey, keyQuery:
		return shapeGemini
	}
	return shapeOpenAI
}

// Header names, in fasthttp's canonical form, that never go upstream:
// the client's credentials, hop-by-hop headers, and everything that would
// tell the upstream who the client is.
var dropRequestHeaders = map[string]bool{
	"Authorization": true, "X-Api-Key": true, "X-Goog-Api-Key": true, "Proxy-Authorization": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Host": true, "Content-Length": true,
	"Accept-Encoding": true, // usage is read from the body: ask for it uncompressed
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Forwarded-Port": true,
	"X-Forwarded-Server": true, "X-Real-Ip": true, "Forwarded": true, "Via": true, "True-Client-Ip": true,
	"Cf-Connecting-Ip": true, "Cf-Connecting-Ipv6": true, "Cf-Ipcountry": true, "Cf-Ray": true,
	"X-Client-Ip": true, "X-Cluster-Client-Ip": true, "Fastly-Client-Ip": true, "X-Original-Forwarded-For": true,
	"X-Appengine-User-Ip": true, "X-Envoy-External-Address": true, "Cookie": true, "Origin": true, "Referer": true,
}

// Response headers that aigw sets itself or that are hop-by-hop.
var dropResponseHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
	"Access-Control-Allow-Origin": true, "Access-Control-Allow-Credentials": true,
	"Access-Control-Expose-Headers": true, "Access-Control-Allow-Headers": true,
	"Access-Control-Allow-Methods": true, "Access-Control-Max-Age": true,
}
