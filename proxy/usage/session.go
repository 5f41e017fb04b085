package usage

import (
	"bytes"

	"github.com/cespare/xxhash/v2"
)

// Session is what a request body says about the conversation it belongs
// to, for keeping a conversation on one upstream account (whose prompt
// cache holds its history). It is read in one walk over the body's
// top-level members: values are skipped by bracket counting, never decoded.
type Session struct {
	// The body's own session fields, as raw JSON string contents (escapes
	// not decoded, aliasing the body); nil when absent or not a string.
	UserID             []byte // Anthropic metadata.user_id
	PromptCacheKey     []byte // OpenAI prompt_cache_key
	PreviousResponseID []byte // OpenAI Responses previous_response_id

	// Prefix (computed only when the body names no session) hashes the leading prompt: the system prompt and the first
	// input items up to and including the first user turn, each cut to
	// PrefixBytes, with Anthropic's movable cache_control markers left out.
	// It is 0 when the body has no prompt to hash (PrefixMissing says why).
	Prefix        uint64
	PrefixMissing string
}

// PrefixBytes bounds each hashed part of the leading prompt.
const PrefixBytes = 4 << 10

// maxPrefixItems bounds the input items hashed before the first user turn.
const maxPrefixItems = 4

// Why Session.Prefix is 0.
const (
	NoPrefixNotJSON = "body is not a JSON object"
	NoPrefixPrompt  = "body has no system prompt or messages"
)

// ReadSession reads the session fields and the prompt prefix of a JSON
// request body. It never fails: what it cannot read is left empty.
func ReadSession(body []byte) Session {
	if len(body) > tailWindow {
		if s, ok := readSessionTail(body); ok {
			return s
		}
	}
	return readSessionWhole(body)
}

// readSessionWhole walks every top-level member of body.
func readSessionWhole(body []byte) Session {
	var s Session
	it := objectIter{b: body}
	if !it.open() {
		s.PrefixMissing = NoPrefixNotJSON
		return s
	}
	var system, items []byte
	for {
		key, vs, ve, ok := it.next()
		if !ok {
			break
		}
		v := body[vs:ve]
		switch {
		case keyIs(key, "messages"), keyIs(key, "input"), keyIs(key, "contents"):
			items = v
		case keyIs(key, "system"), keyIs(key, "instructions"), keyIs(key, "systemInstruction"), keyIs(key, "system_instruction"):
			system = v
		case keyIs(key, "metadata"):
			s.UserID = memberString(v, "user_id")
		case keyIs(key, "prompt_cache_key"):
			s.PromptCacheKey = stringContent(v)
		case keyIs(key, "previous_response_id"):
			s.PreviousResponseID = stringContent(v)
		}
	}
	if it.err && it.n == 0 {
		s.PrefixMissing = NoPrefixNotJSON
		return s
	}
	if s.UserID != nil || s.PromptCacheKey != nil || s.PreviousResponseID != nil {
		return s // the body names its session: no prefix needed
	}
	s.Prefix = prefixHash(system, items)
	if s.Prefix == 0 {
		s.PrefixMissing = NoPrefixPrompt
	}
	return s
}

// tailWindow is how far from a body's end readSessionTail looks; a body
// no longer than that is walked whole.
const tailWindow = 4 << 10

// Member names as indexQuoted looks for them: without the opening quote.
var (
	metadataKey       = []byte(`metadata"`)
	promptCacheKeyKey = []byte(`prompt_cache_key"`)
	cacheControl      = []byte(`cache_control"`)
)

// indexQuoted returns the index in b of the first `"` + name (name ends
// with its closing quote), or -1. It searches for name and then checks
// the quote before it: a search that starts at a quote stops at every
// string of a JSON body.
func indexQuoted(b, name []byte) int {
	for off := 0; ; {
		i := bytes.Index(b[off:], name)
		if i < 0 {
			return -1
		}
		if i += off; i > 0 && b[i-1] == '"' {
			return i - 1
		}
		off = i + 1
	}
}

// readSessionTail is ReadSession's fast path for agents' bodies, which put
// their session field after the history (Claude Code's metadata.user_id,
// the Codex CLI's prompt_cache_key): late turns run to hundreds of KiB, and
// walking all of it costs about a microsecond per 1.5 KiB. It looks for the
// field in the last tailWindow bytes only, and trusts a match only if the
// rest of the body from there reads as top-level members that close the
// body's object (a key nested deeper would close its own object first; one
// inside a string would have its quotes escaped); on a body that is valid
// JSON it finds what the whole walk would. ok is false when the tail names
// no session: the whole walk decides then.
func readSessionTail(body []byte) (s Session, ok bool) {
	if i := skipSpace(body, 0); i >= len(body) || body[i] != '{' {
		return s, false
	}
	start := max(0, len(body)-tailWindow)
	w := body[start:]
	at := -1
	for _, k := range [...][]byte{metadataKey, promptCacheKeyKey} {
		if i := indexQuoted(w, k); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	if at < 0 {
		return s, false
	}
	// The byte before the key must open or continue the top-level object.
	i := start + at
	j := i - 1
	for j >= 0 && isSpace(body[j]) {
		j--
	}
	if j < 0 || body[j] != ',' && body[j] != '{' {
		return s, false
	}
	it := objectIter{b: body, i: j, n: 1} // next reads the comma first
	if body[j] == '{' {
		it.i, it.n = j+1, 0
	}
	var user, cacheKey []byte
	for {
		key, vs, ve, more := it.next()
		if !more {
			break
		}
		switch {
		case keyIs(key, "metadata"):
			user = memberString(body[vs:ve], "user_id")
		case keyIs(key, "prompt_cache_key"):
			cacheKey = stringContent(body[vs:ve])
		}
	}
	if it.err || skipSpace(body, it.i) != len(body) {
		return s, false
	}
	s.UserID = user
	if user == nil {
		s.PromptCacheKey = cacheKey
	}
	return s, user != nil || cacheKey != nil
}

// stringContent returns the raw content of a JSON string value, nil for
// any other value or an empty string.
func stringContent(v []byte) []byte {
	if len(v) < 3 || v[0] != '"' {
		return nil
	}
	return v[1 : len(v)-1]
}

// memberString returns the raw string content of obj's member name.
func memberString(obj []byte, name string) []byte {
	it := objectIter{b: obj}
	if !it.open() {
		return nil
	}
	var out []byte
	for {
		key, vs, ve, ok := it.next()
		if !ok {
			return out
		}
		if keyIs(key, name) {
			out = stringContent(obj[vs:ve])
		}
	}
}

// prefixHash hashes the system prompt and the items of the input up to
// and including the first with role "user" (at most maxPrefixItems), each
// cut to PrefixBytes. An input that is a string is hashed as one item.
// Stable across the turns of one conversation: later items never count.
func prefixHash(system, items []byte) uint64 {
	if len(system) == 0 && len(items) == 0 {
		return 0
	}
	var d xxhash.Digest
	d.Reset()
	part := func(b []byte) {
		hashPart(&d, b[:min(len(b), PrefixBytes)])
		_, _ = d.Write([]byte{0}) // separates the parts
	}
	if len(system) > 0 {
		part(system)
	}
	n := 0
	switch {
	case len(items) > 0 && items[0] == '[':
		i := 1
		for n < maxPrefixItems {
			i = skipSpace(items, i)
			if i < len(items) && items[i] == ',' {
				i = skipSpace(items, i+1)
			}
			if i >= len(items) || items[i] == ']' {
				break
			}
			end, ok := valueEnd(items, i)
			if !ok {
				// Cut short: hash what there is of this item.
				part(items[i:])
				n++
				break
			}
			item := items[i:end]
			part(item)
			n++
			if isUserTurn(item) {
				break
			}
			i = end
		}
	case len(items) > 0:
		part(items)
		n++
	}
	if n == 0 && len(system) == 0 {
		return 0
	}
	h := d.Sum64()
	if h == 0 {
		h = 1
	}
	return h
}

// isUserTurn reports whether an input item is the user's: its "role" is
// "user" (Anthropic, OpenAI, Gemini contents).
func isUserTurn(item []byte) bool {
	it := objectIter{b: item}
	if !it.open() {
		return true // a bare string or part: the user's input
	}
	for {
		key, vs, ve, ok := it.next()
		if !ok {
			return false
		}
		if keyIs(key, "role") {
			return string(item[vs:ve]) == `"user"`
		}
	}
}

// hashPart writes b to d without its "cache_control" members: clients move
// that marker to the newest turn, and it would otherwise change the hash of
// an old one.
func hashPart(d *xxhash.Digest, b []byte) {
	for {
		k := indexQuoted(b, cacheControl)
		if k < 0 {
			_, _ = d.Write(b)
			return
		}
		n := 1 + len(cacheControl) // the member name with both quotes
		i := skipSpace(b, k+n)
		if i >= len(b) || b[i] != ':' {
			_, _ = d.Write(b[:k+n])
			b = b[k+n:]
			continue
		}
		end, ok := valueEnd(b, skipSpace(b, i+1))
		start := k
		for j := k - 1; j >= 0; j-- {
			if b[j] == ',' {
				start = j
				break
			}
			if !isSpace(b[j]) {
				break
			}
		}
		if !ok {
			_, _ = d.Write(b[:start]) // the cut fell inside the marker
			return
		}
		if start == k { // the first member: drop the comma after it instead
			if j := skipSpace(b, end); j < len(b) && b[j] == ',' {
				end = j + 1
			}
		}
		_, _ = d.Write(b[:start])
		b = b[end:]
	}
}
