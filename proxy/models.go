package proxy

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/store"
	"github.com/valyala/fasthttp"
)

// A key's model allow-list (store.Key.Models). A key without one costs
// nothing here: its gwKey.models is nil and allowModel returns at once.
//
// With a list, every request that names a model must name an allowed one,
// and one whose body names none is refused rather than let through: the
// model is read from the path (Gemini's models/{model}:{method}, and
// models/{id} for every API) and from the JSON body's top-level "model",
// both with the cheap scanners of package usage. A request with neither a
// model in its path nor a body (GET /v1/files, GET /v1/responses/{id})
// cannot start a generation and passes. A model list (GET …/models) passes
// and its answer is filtered (respondModelList).

// modelAllow is a key's allow-list, compiled when the snapshot is built.
type modelAllow struct {
	patterns []modelPattern
}

// modelPattern is one exact name or * glob: the text before the first *
// (prefix), after the last (suffix), and the pieces between, which must
// appear in this order.
type modelPattern struct {
	glob           bool
	prefix, suffix string
	middle         []string
}

// compileModels returns nil for an empty list: every model.
func compileModels(models []string) *modelAllow {
	if len(models) == 0 {
		return nil
	}
	a := &modelAllow{patterns: make([]modelPattern, 0, len(models))}
	for _, m := range models {
		parts := strings.Split(m, "*")
		p := modelPattern{prefix: parts[0]}
		if len(parts) > 1 {
			p.glob, p.suffix = true, parts[len(parts)-1]
			for _, mid := range parts[1 : len(parts)-1] {
				if mid != "" {
					p.middle = append(p.middle, mid)
				}
			}
		}
		a.patterns = append(a.patterns, p)
	}
	return a
}

// allows reports whether model matches one of the patterns. No allocation.
func (a *modelAllow) allows(model string) bool {
	for i := range a.patterns {
		if a.patterns[i].match(model) {
			return true
		}
	}
	return false
}

// match: * matches any run of bytes ('/' included); taking each middle
// piece at its first place is enough, since a later place leaves less
// room for what follows.
func (p *modelPattern) match(s string) bool {
	if !p.glob {
		return s == p.prefix
	}
	if len(s) < len(p.prefix)+len(p.suffix) || !strings.HasPrefix(s, p.prefix) || !strings.HasSuffix(s, p.suffix) {
		return false
	}
	s = s[len(p.prefix) : len(s)-len(p.suffix)]
	for _, m := range p.middle {
		i := strings.Index(s, m)
		if i < 0 {
			return false
		}
		s = s[i+len(m):]
	}
	return true
}

// allowModel refuses, with 403 and before any upstream call, a request of a
// key with an allow-list for a model not on it, or whose model cannot be
// told. An allowed request costs no allocation: the model is matched where
// it stands in the path or the body.
func (x *exchange) allowModel() bool {
	allow := x.key.models
	if allow == nil {
		return true
	}
	gemini := x.prov.typ == store.TypeGemini
	path := trimSlashes(x.rest)
	if x.ctx.IsGet() && isModelList(path) {
		x.listModels = true
		return true
	}
	inPath := modelInPath(path, gemini)
	body := x.ctx.Request.Body()
	var inBody []byte
	if len(body) > 0 {
		raw, escaped, count := usage.RequestModelRaw(body)
		if count > 1 {
			x.modelRead = true
			return x.reject(fasthttp.StatusForbidden, msgModelTwice)
		}
		if escaped {
			raw = []byte(usage.RequestModel(body))
		}
		if gemini {
			raw = bytes.TrimPrefix(raw, modelsSlash) // cachedContents, the OpenAI-compatible endpoints
		}
		inBody = raw
	}
	switch {
	case len(inPath) == 0 && len(inBody) == 0 && len(body) > 0:
		x.modelRead = true
		return x.reject(fasthttp.StatusForbidden, msgNoModel)
	case len(inPath) > 0 && !allowedBytes(allow, inPath):
		return x.modelRefused(inPath)
	case len(inBody) > 0 && !allowedBytes(allow, inBody):
		return x.modelRefused(inBody)
	}
	return true
}

const msgNoModel = "aigw: this gateway key allows only some models, and the request names none (its body has no top-level \"model\")"

// msgModelTwice: parsers differ on which of several "model" members (or
// "Model", which Go's encoding/json reads as "model") counts.
const msgModelTwice = "aigw: this gateway key allows only some models, and the request names its model more than once (\"model\" twice, or in another case)"

var modelsSlash = []byte("models/")

// modelRefused answers 403 for a model not allowed; the trace keeps it.
func (x *exchange) modelRefused(model []byte) bool {
	x.model, x.modelRead = usage.CutString(string(model), usage.MaxModel), true
	return x.reject(fasthttp.StatusForbidden, "aigw: model "+strconv.Quote(x.model)+" is not allowed for this gateway key")
}

// allowedBytes matches model where it stands, through a string that shares
// its bytes: allows keeps nothing, and the bytes do not change meanwhile.
// A model longer than usage.MaxModel, or cut to it (an escaped one read
// through usage.RequestModel), is refused: what a pattern would match is
// not the model asked for.
func allowedBytes(a *modelAllow, model []byte) bool {
	return allowed(a, unsafe.String(unsafe.SliceData(model), len(model)))
}

func allowed(a *modelAllow, model string) bool {
	return len(model) <= usage.MaxModel && !strings.HasSuffix(model, usage.CutMark) && a.allows(model)
}

func trimSlashes(path []byte) []byte {
	for len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	return path
}

// isModelList: GET /v1/models (OpenAI, Anthropic), /v1beta/models (Gemini),
// /v1beta/openai/models, or any path whose last segment is "models".
func isModelList(path []byte) bool {
	return bytes.HasSuffix(path, []byte("/models"))
}

// modelInPath is the model a path names, as it stands in the path (nil for
// none): Gemini's …/models/{model}:{method} and …/models/{model} (as
// usage.ModelFromPath reads them), or another API's …/models/{id}, whose
// id may hold ':' (OpenAI's fine-tuned ft:gpt-4o:org::id).
func modelInPath(path []byte, gemini bool) []byte {
	if gemini {
		i := bytes.LastIndex(path, modelsSlash)
		if i < 0 || i > 0 && path[i-1] != '/' {
			return nil
		}
		m := path[i+len(modelsSlash):]
		if j := bytes.IndexAny(m, ":/?"); j >= 0 {
			m = m[:j]
		}
		return m
	}
	i := bytes.LastIndexByte(path, '/')
	if i < 0 || !bytes.HasSuffix(path[:i], []byte("/models")) {
		return nil
	}
	return path[i+1:]
}

// maxModelList bounds the model list answer read whole to be filtered.
const maxModelList = 4 << 20

// listError is why a model list is not passed on.
type listError struct {
	status int
	why    string
}

func (e *listError) Error() string { return e.why }

var errListTooLarge = &listError{fasthttp.StatusBadGateway, "it is larger than 4 MiB"}

// respondModelList passes on a model list with only the key's allowed
// models in it (usage.FilterModelList). The list is read whole, at most
// maxModelList bytes, held against proxy.body_memory; one that cannot be
// filtered is not passed on.
func (x *exchange) respondModelList() {
	list, err := x.readModelList()
	var le *listError
	switch {
	case errors.As(err, &le):
		x.listFailed(le)
		return
	case err != nil:
		x.brokeOff(err)
		return
	}
	allow, gemini := x.key.models, x.prov.typ == store.TypeGemini
	out, err := usage.FilterModelList(nil, list, func(id string) bool {
		if gemini {
			id = strings.TrimPrefix(id, "models/")
		}
		return allowed(allow, id)
	})
	if err != nil {
		x.listFailed(&listError{fasthttp.StatusBadGateway, "it is not a JSON object with a \"data\" or \"models\" list"})
		return
	}
	x.bytesOut = int64(len(out))
	x.ctx.Response.SetBodyRaw(out) // out is this answer's alone
}

// readModelList reads the upstream's answer whole into x.body.
func (x *exchange) readModelList() ([]byte, error) {
	if enc := x.upHeader.ContentEncoding(); len(enc) > 0 && !bytes.EqualFold(enc, []byte("identity")) {
		return nil, &listError{fasthttp.StatusBadGateway, "it came compressed (" + strconv.Quote(string(enc)) + ")"}
	}
	size := x.up.Size()
	if size > maxModelList {
		return nil, errListTooLarge
	}
	if size >= 0 {
		if e := x.holdBody(int64(size)); e != nil {
			return nil, &listError{e.status, e.msg}
		}
		x.body = slices.Grow(x.body[:0], size)[:size]
		if _, err := io.ReadFull(&x.up, x.body); err != nil {
			return nil, err
		}
		return x.body, nil
	}
	buf := x.body[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) > maxModelList {
				return nil, errListTooLarge
			}
			old := cap(buf)
			buf = slices.Grow(buf, min(max(len(buf), 16<<10), maxModelList+1-len(buf)))
			if e := x.holdBody(int64(cap(buf) - old)); e != nil {
				return nil, &listError{e.status, e.msg}
			}
			x.body = buf
		}
		n, err := x.up.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			if len(buf) > maxModelList {
				return nil, errListTooLarge
			}
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// listFailed answers for a model list that is not passed on; the
// upstream's headers go with its body.
func (x *exchange) listFailed(e *listError) {
	h := &x.ctx.Response.Header
	h.Reset()
	h.SetCanonical(hdrRequestID, x.id)
	h.SetCanonical(hdrOverhead, appendMillis(x.numBuf[:0], x.overhead))
	if e.status == fasthttp.StatusServiceUnavailable {
		h.Set(fasthttp.HeaderRetryAfter, "1")
		x.reject(e.status, e.why)
		return
	}
	x.reject(e.status, "aigw: the upstream's model list cannot be filtered for this gateway key's allowed models: "+e.why)
}
