package proxy

import (
	"bytes"
	"strings"

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

// dropRequestHeader reports whether a header (named in fasthttp's canonical
// form) must not go upstream: the client's credentials, hop-by-hop headers,
// and everything that would tell the upstream who the client is. A switch
// rather than a map: it runs for every header of every request, and
// compiled string cases cost less than hashing the name.
func dropRequestHeader(k []byte) bool {
	if len(k) > 7 && string(k[:7]) == "X-Aigw-" {
		return true // aigw's own (e.g. the session header): not the upstream's business
	}
	switch string(k) {
	case "Authorization", "X-Api-Key", "X-Goog-Api-Key", "Proxy-Authorization",
		"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Host", "Content-Length",
		"Expect",          // aigw has the whole body: an upstream 100 Continue would only be noise
		"Accept-Encoding", // usage is read from the body: ask for it uncompressed
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
		"X-Forwarded-Server", "X-Real-Ip", "Forwarded", "Via", "True-Client-Ip",
		"Cf-Connecting-Ip", "Cf-Connecting-Ipv6", "Cf-Ipcountry", "Cf-Ray",
		"X-Client-Ip", "X-Cluster-Client-Ip", "Fastly-Client-Ip", "X-Original-Forwarded-For",
		"X-Appengine-User-Ip", "X-Envoy-External-Address", "X-Originating-Ip", "Client-Ip",
		"X-Remote-Addr", "X-Remote-Ip", "X-Proxyuser-Ip", "X-Forwarded", "Cookie", "Cookie2",
		"Origin", "Referer":
		return true
	}
	return false
}

// validHeaderName reports whether k is an RFC 9110 token: a name with
// other bytes is not forwarded.
func validHeaderName(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if !tokenByte[c] {
			return false
		}
	}
	return true
}

var tokenByte = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0
	}
	return t
}()

// listsToken reports whether the comma-separated list (a Connection
// header's value) names the header k, in any case.
func listsToken(list, k []byte) bool {
	for len(list) > 0 {
		var item []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			item, list = list, nil
		}
		if bytes.EqualFold(bytes.TrimSpace(item), k) {
			return true
		}
	}
	return false
}

// dropResponseHeader reports whether an upstream response header is one
// that aigw sets itself or a hop-by-hop one.
func dropResponseHeader(k []byte) bool {
	switch string(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Content-Length",
		"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
		"Access-Control-Expose-Headers", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Max-Age":
		return true
	}
	return false
}

// appendEscapedPath appends a decoded path escaped for a request line, as
// net/url escapes a path: letters, digits, "-._~" and "$&+,/:;=@" stay,
// every other byte becomes %XX.
func appendEscapedPath(dst, path []byte) []byte {
	for _, c := range path {
		if pathByteKept[c] {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

const upperHex = "0123456789ABCDEF"

var pathByteKept = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~$&+,/:;=@", byte(c)) >= 0
	}
	return t
}()
