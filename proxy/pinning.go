package proxy

import (
	"bytes"
	"strconv"
	"sync"
	"time"

	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/scheduler"
	"github.com/cespare/xxhash/v2"
	"github.com/valyala/fasthttp"
)

// Response pinning. OpenAI's Responses API keeps state on the upstream
// account that created a response: a follow-up naming it in
// previous_response_id, and the stored-response endpoints
// (GET/DELETE /v1/responses/{id}, …/{id}/input_items, POST …/{id}/cancel),
// work only there; any other account answers "not found". So the proxy
// remembers, from each Responses answer as it passes, which credential
// created which id (in memory only: a restart forgets), and sends a request
// that names a remembered id to that credential whatever the key's
// strategy — and only to it: if it cannot take the request, the client is
// told so rather than sent to an account that would deny the response
// exists.

// Defaults of Config.ResponsePins and Config.ResponsePinTTL. Thirty days
// is how long OpenAI keeps a stored response.
const (
	DefaultResponsePins   = 100_000
	DefaultResponsePinTTL = 30 * 24 * time.Hour
)

// affinityPinned is the trace's affinity of a pinned request.
const affinityPinned = "pinned"

// Looking for a response id in an answer stops after its first
// maxIDPrefix bytes or maxIDReads reads (OpenAI's id comes in the first
// hundred bytes, in the first read).
const (
	maxIDPrefix = 8 << 10
	maxIDReads  = 32
)

// pinned finds the credential a request must go to because the response it
// names lives on that credential's account: the id in a stored-response
// path, else the body's previous_response_id, if remembered. pos is its
// position in the key's pool, or -1 when the request is not pinned (the
// key's strategy chooses). When the credential is not in the key's pool,
// the client is answered here and ok is false.
func (x *exchange) pinned() (pos int, ok bool) {
	t := x.p.pins
	if t == nil {
		return -1, true
	}
	tail, ok := responsesTail(x.rest)
	if !ok {
		return -1, true
	}
	id, credID := x.pinnedResponse(t, tail)
	if credID == "" {
		return -1, true
	}
	x.pinID = id
	if x.trace != nil {
		x.trace.Affinity = affinityPinned
		x.trace.CredentialID = credID // the answer's, even when aigw refuses the request
	}
	for i, c := range x.pool.creds {
		if c.id == credID {
			return i, true
		}
	}
	return -1, x.pinRefused(fasthttp.StatusConflict,
		"belongs to an upstream account outside this gateway key's credential pool, the only one that holds it")
}

// pinnedResponse returns the remembered response id the request names, and
// its credential ("": none).
func (x *exchange) pinnedResponse(t *pinTable, tail []byte) ([]byte, string) {
	now := x.start.UnixNano()
	seg := tail
	if i := bytes.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	if usage.ValidResponseID(seg) {
		if c := t.lookup(pinKey(x.prov.name, seg), now); c != "" {
			return seg, c
		}
	}
	if !x.ctx.IsPost() {
		return nil, ""
	}
	if id := usage.PreviousResponseID(x.ctx.Request.Body()); usage.ValidResponseID(id) {
		if c := t.lookup(pinKey(x.prov.name, id), now); c != "" {
			return id, c
		}
	}
	return nil, ""
}

var responsesSeg = []byte("/responses")

// responsesTail returns what follows the last "/responses" segment of an
// upstream path: "" for POST …/responses, "resp_1" or "resp_1/input_items"
// for the stored-response endpoints; ok is false when the path has no such
// segment (the requests of every other API).
func responsesTail(path []byte) (tail []byte, ok bool) {
	i := bytes.LastIndex(path, responsesSeg)
	if i < 0 {
		return nil, false
	}
	rest := path[i+len(responsesSeg):]
	if len(rest) > 0 && rest[0] != '/' {
		return nil, false // e.g. "/responsesX"
	}
	return bytes.TrimPrefix(rest, []byte("/")), true
}

// pinOut answers a pinned request whose credential cannot take it now:
// 503 with Retry-After while it cools down or waits for its half-open
// trial (it comes back by itself: SDKs retry a 503), 429 while it is over
// its own rpm limit, 409 while the operator keeps it disabled (nothing
// gets better by retrying soon; the response is not gone, so not 404).
func (x *exchange) pinOut(pos int, wait time.Duration) bool {
	c := x.pool.creds[pos]
	switch st := c.health.State(); {
	case st == scheduler.Healthy:
		x.retryAfter(wait)
		return x.pinRefused(fasthttp.StatusTooManyRequests,
			"belongs to an upstream account that is at its own requests-per-minute limit; retry in "+secs(wait))
	case wait > 0:
		x.retryAfter(wait)
		why := "cooling down after upstream errors or a rate limit"
		if st == scheduler.Invalid {
			why = "refused by the upstream (invalid credential)"
		}
		return x.pinRefused(fasthttp.StatusServiceUnavailable,
			"belongs to an upstream account that is out of rotation ("+why+") for another "+secs(wait)+"; retry later")
	}
	return x.pinRefused(fasthttp.StatusConflict,
		"belongs to an upstream account that the gateway's operator has disabled, the only one that holds it")
}

func (x *exchange) pinRefused(status int, why string) bool {
	// The id was checked by ValidResponseID: short, letters and digits.
	return x.reject(status, "aigw: response "+strconv.Quote(string(x.pinID))+" "+why)
}

func (x *exchange) retryAfter(d time.Duration) {
	x.ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(ceilSecs(d), 10))
}

func ceilSecs(d time.Duration) int64 { return max(int64((d+time.Second-1)/time.Second), 1) }

func secs(d time.Duration) string { return strconv.FormatInt(ceilSecs(d), 10) + "s" }

// watchResponse starts looking for the id of a Responses API answer that
// is about to pass (a created response: POST, 2xx).
func (x *exchange) watchResponse() {
	x.pinWatch = x.p.pins != nil && x.api == usage.OpenAIResponses &&
		x.upHeader.StatusCode()/100 == 2 && x.ctx.IsPost()
}

// noteResponse reads b, the answer's next bytes, for its id; once found,
// the id is remembered with the credential that answered. last says no
// bytes follow. The bytes are read where they are; only an id split across
// reads has the first ones copied (up to maxIDPrefix).
func (x *exchange) noteResponse(b []byte, last bool) {
	buf := b
	if len(x.pinBuf) > 0 {
		x.pinBuf = append(x.pinBuf, b[:min(len(b), maxIDPrefix-len(x.pinBuf))]...)
		buf = x.pinBuf
	}
	x.pinReads++
	id, st := usage.ResponseID(buf, x.format)
	switch {
	case st == usage.IDFound:
		x.p.pins.remember(pinKey(x.prov.name, id), x.cred.id, x.start.UnixNano())
	case st == usage.IDMore && !last && len(buf) < maxIDPrefix && x.pinReads < maxIDReads:
		if len(x.pinBuf) == 0 && len(b) > 0 {
			x.pinBuf = append(make([]byte, 0, min(maxIDPrefix, 2*len(b)+512)), b...)
		}
		return
	}
	x.pinWatch, x.pinBuf = false, nil
}

// pinKey is a response id's key in the table: ids are the upstream's, so
// the provider's name is part of it (xor'd in: a bijection per provider).
func pinKey(provider string, id []byte) uint64 {
	return xxhash.Sum64(id) ^ xxhash.Sum64String(provider)
}

// pinTable remembers response ids (by pinKey) with the id of the credential
// that created them: a least-recently-used table of bounded size whose
// entries also expire. It is split into shards, each with its own mutex,
// list and map, so that concurrent requests rarely wait on each other; a
// small table has one shard and is then exactly LRU. An entry costs about
// 65 bytes, 6.5 MB for DefaultResponsePins (no copy of the id is kept; two
// ids whose 64-bit keys collide would share an entry).
type pinTable struct {
	shards []pinShard
	mask   uint64
	ttl    int64 // ns
}

type pinShard struct {
	mu         sync.Mutex
	index      map[uint64]int32 // key → slot
	slots      []pinSlot        // grows up to max
	max        int32
	head, tail int32    // most and least recently used; -1: empty
	free       int32    // a slot freed by expiry, chained by next; -1: none
	_          [72]byte // 56 + 72 = 128: two cache lines of its own, no false sharing
}

type pinSlot struct {
	key        uint64
	cred       string
	expires    int64 // unix ns
	prev, next int32
}

// pinsPerShard is the size below which a table has one shard.
const pinsPerShard = 1024

func newPinTable(size int, ttl time.Duration) *pinTable {
	n := 1
	for n < 64 && size/(2*n) >= pinsPerShard {
		n *= 2
	}
	t := &pinTable{shards: make([]pinShard, n), mask: uint64(n - 1), ttl: int64(ttl)}
	for i := range t.shards {
		s := &t.shards[i]
		s.max = int32((size + n - 1) / n)
		s.head, s.tail, s.free = -1, -1, -1
	}
	return t
}

// remember stores key → cred, as the most recently used entry, until now+ttl.
func (t *pinTable) remember(key uint64, cred string, now int64) {
	s := &t.shards[key&t.mask]
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[key]; ok {
		s.slots[i].cred, s.slots[i].expires = cred, now+t.ttl
		s.toFront(i)
		return
	}
	if s.index == nil {
		s.index = make(map[uint64]int32)
	}
	var i int32
	switch {
	case s.free >= 0:
		i, s.free = s.free, s.slots[s.free].next
	case int32(len(s.slots)) < s.max:
		if len(s.slots) == cap(s.slots) { // double, but never past max (append would)
			grown := make([]pinSlot, len(s.slots), min(max(2*len(s.slots), 16), int(s.max)))
			copy(grown, s.slots)
			s.slots = grown
		}
		s.slots = append(s.slots, pinSlot{})
		i = int32(len(s.slots) - 1)
	default: // full: the least recently used entry goes
		i = s.tail
		s.unlink(i)
		delete(s.index, s.slots[i].key)
	}
	s.slots[i] = pinSlot{key: key, cred: cred, expires: now + t.ttl, prev: -1, next: -1}
	s.index[key] = i
	s.pushFront(i)
}

// lookup returns key's credential id ("" when unknown or expired) and makes
// it the most recently used entry.
func (t *pinTable) lookup(key uint64, now int64) string {
	s := &t.shards[key&t.mask]
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[key]
	if !ok {
		return ""
	}
	if now >= s.slots[i].expires {
		s.unlink(i)
		delete(s.index, key)
		s.slots[i] = pinSlot{next: s.free}
		s.free = i
		return ""
	}
	s.toFront(i)
	return s.slots[i].cred
}

// len is the number of entries held (expired ones not yet dropped included).
func (t *pinTable) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.index)
		s.mu.Unlock()
	}
	return n
}

func (s *pinShard) unlink(i int32) {
	sl := &s.slots[i]
	if sl.prev >= 0 {
		s.slots[sl.prev].next = sl.next
	} else {
		s.head = sl.next
	}
	if sl.next >= 0 {
		s.slots[sl.next].prev = sl.prev
	} else {
		s.tail = sl.prev
	}
	sl.prev, sl.next = -1, -1
}

func (s *pinShard) pushFront(i int32) {
	sl := &s.slots[i]
	sl.prev, sl.next = -1, s.head
	if s.head >= 0 {
		s.slots[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
}

func (s *pinShard) toFront(i int32) {
	if s.head != i {
		s.unlink(i)
		s.pushFront(i)
	}
}
