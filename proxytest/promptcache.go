package proxytest

import (
	"bytes"
	"container/list"
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"sync"
)

// A simulated prompt cache, per credential, as the providers keep one per
// account: see [Upstream.SimulatePromptCache].

// PromptCacheEntries is how many prompt prefixes the simulated cache keeps
// per credential; the least recently used go first.
const PromptCacheEntries = 10000

// promptCacheCredentials is how many credentials have a cache at once; the
// cache of the credential used least recently goes first.
const promptCacheCredentials = 1024

// SimulatePromptCache turns the per-credential prompt cache simulation on or
// off (it is off in a new fake). Turning it off forgets everything cached.
//
// While it is on, the usage of every answer of Anthropic /v1/messages,
// OpenAI /v1/chat/completions and /v1/responses and Gemini
// generateContent / streamGenerateContent is computed from the request
// instead of [Upstream.SetUsage] (whose Completion and Reasoning still
// apply):
//
//   - The prompt is a sequence of blocks, in the order the provider reads
//     them: "tools" (one block), then Anthropic's "system" (one block per
//     element of an array, or one for a string) or the Responses API's
//     "instructions" or Gemini's "systemInstruction", then each element of
//     "messages" (Anthropic, OpenAI chat), "input" (Responses: each item, or
//     one block for a string) or "contents" (Gemini). A body whose prompt
//     fields are not of those shapes is one block: the whole body.
//   - A block is its JSON without whitespace and with every "cache_control"
//     member removed (moving Anthropic's cache breakpoints does not change
//     the prompt; reordering keys does). It counts ceil(bytes/4) tokens, at
//     least 1.
//   - The cache is keyed by the credential the request carried and the
//     model. The longest prefix of blocks this credential has sent before
//     with this model is read from the cache; then every prefix of this
//     prompt is stored (at most [PromptCacheEntries] per credential). Only
//     normal answers touch the cache: a programmed failure, reset or garbage
//     does not.
//
// Usage then reports, each API in its own fields (see [Usage]):
//
//   - Anthropic: cache_read_input_tokens = the prefix read;
//     cache_creation_input_tokens = the blocks after it up to the last one
//     that carries a "cache_control" marker; input_tokens = the rest.
//   - OpenAI chat: prompt_tokens = every block,
//     prompt_tokens_details.cached_tokens = the prefix read; Responses:
//     input_tokens and input_tokens_details.cached_tokens likewise.
//   - Gemini: promptTokenCount = every block, cachedContentTokenCount = the
//     prefix read.
//
// The simulation is idealised: any prefix is read back, however short, with
// no minimum length, breakpoint or expiry, and previous_response_id brings
// no earlier context. It measures how well a gateway keeps a conversation
// on one credential, not what a provider would bill.
func (u *Upstream) SimulatePromptCache(on bool) {
	if !on {
		u.prompts.Store(nil)
		return
	}
	u.prompts.CompareAndSwap(nil, newPromptCache(PromptCacheEntries, promptCacheCredentials))
}

// simulatePromptCache replaces the exchange's prompt-side usage with the
// simulated cache's figures, when the simulation is on and the endpoint has
// a prompt.
func (x *exchange) simulatePromptCache() {
	var kind api
	switch x.ep {
	case &anthropicMessages:
		kind = apiAnthropic
	case &openAIChat, &openAIResponses:
		kind = apiOpenAI
	case &geminiGenerate, &geminiStream:
		kind = apiGemini
	default:
		return
	}
	c := x.u.prompts.Load()
	if c == nil {
		return
	}
	p := promptOf(x.body)
	read := c.lookupAndStore(x.cred, x.model, p.blocks)
	x.usage = p.usage(kind, read, x.usage)
}

// prompt is a request's prompt as blocks.
type prompt struct {
	blocks     [][]byte // canonical JSON of each block
	tokens     []int    // tokens of each block
	breakpoint []bool   // the block carried a cache_control marker
}

// promptFields are the parts of a request body that make its prompt, in
// every API's spelling.
type promptFields struct {
	Tools             json.RawMessage   `json:"tools"`
	System            json.RawMessage   `json:"system"`       // Anthropic: a string or an array of blocks
	Instructions      json.RawMessage   `json:"instructions"` // Responses
	SystemInstruction json.RawMessage   `json:"systemInstruction"`
	SystemSnake       json.RawMessage   `json:"system_instruction"` // Gemini's REST spelling
	Messages          []json.RawMessage `json:"messages"`           // Anthropic, OpenAI chat
	Input             json.RawMessage   `json:"input"`              // Responses: a string or an array of items
	Contents          []json.RawMessage `json:"contents"`           // Gemini
}

// promptOf splits a request body into its prompt blocks.
func promptOf(body []byte) prompt {
	var f promptFields
	var p prompt
	if json.Unmarshal(body, &f) != nil {
		p.add(body, false)
		return p
	}
	ok := p.addRaw(f.Tools, false) &&
		p.addRaw(f.System, true) &&
		p.addRaw(f.Instructions, false) &&
		p.addRaw(f.SystemInstruction, false) &&
		p.addRaw(f.SystemSnake, false)
	for _, m := range f.Messages {
		ok = ok && p.addRaw(m, false)
	}
	ok = ok && p.addRaw(f.Input, true)
	for _, c := range f.Contents {
		ok = ok && p.addRaw(c, false)
	}
	if !ok {
		p = prompt{}
		p.add(body, false)
	}
	return p
}

// addRaw adds raw as a block (absent or null adds nothing); with split, an
// array adds each element as a block. It returns false if raw is not JSON.
func (p *prompt) addRaw(raw json.RawMessage, split bool) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return true
	}
	if split && raw[0] == '[' {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return false
		}
		for _, it := range items {
			if !p.addRaw(it, false) {
				return false
			}
		}
		return true
	}
	block, marked, ok := canonicalBlock(raw)
	if !ok {
		return false
	}
	p.add(block, marked)
	return true
}

func (p *prompt) add(block []byte, breakpoint bool) {
	p.blocks = append(p.blocks, block)
	p.tokens = append(p.tokens, max(1, (len(block)+3)/4))
	p.breakpoint = append(p.breakpoint, breakpoint)
}

// cacheControlKey is the member Anthropic marks cache breakpoints with.
var cacheControlKey = []byte(`"cache_control":`)

// canonicalBlock is raw compacted (no whitespace outside strings) with every
// "cache_control" member removed, at any depth; marked reports whether there
// was one, ok whether raw is JSON. Compacting and cutting the bytes, rather
// than decoding and encoding again, keeps the client's key order and costs
// one pass.
//
// In compact JSON an unescaped quote followed by `cache_control":` can only
// open that key: a closing quote is followed by ':', ',', '}' or ']'.
func canonicalBlock(raw []byte) (block []byte, marked, ok bool) {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return nil, false, false
	}
	b := buf.Bytes()
	for from := 0; from < len(b); {
		i := bytes.Index(b[from:], cacheControlKey)
		if i < 0 {
			break
		}
		i += from
		if escapedAt(b, i) {
			from = i + 1
			continue
		}
		d := json.NewDecoder(bytes.NewReader(b[i+len(cacheControlKey):]))
		var v json.RawMessage
		if d.Decode(&v) != nil {
			return nil, false, false // not after Compact succeeded
		}
		start, end := i, i+len(cacheControlKey)+int(d.InputOffset())
		switch {
		case end < len(b) && b[end] == ',':
			end++
		case start > 0 && b[start-1] == ',':
			start--
		}
		b = append(b[:start], b[end:]...)
		marked = true
		from = start
	}
	return b, marked, true
}

// escapedAt reports whether the byte at i is preceded by an odd number of
// backslashes.
func escapedAt(b []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// usage is the usage of an answer to this prompt when its first read blocks
// came from the cache; completion and reasoning come from configured.
func (p prompt) usage(kind api, read int, configured Usage) Usage {
	total, cached, created := 0, 0, 0
	last := -1 // the last block with a cache breakpoint
	for i, n := range p.tokens {
		total += n
		if i < read {
			cached += n
		}
		if p.breakpoint[i] {
			last = i
		}
	}
	for i := read; i <= last; i++ {
		created += p.tokens[i]
	}
	u := Usage{Completion: configured.Completion, Reasoning: configured.Reasoning, CacheRead: cached}
	if kind == apiAnthropic {
		u.Prompt, u.CacheCreation = total-cached-created, created
	} else {
		u.Prompt = total
	}
	return u
}

// promptCache is the simulated cache: per credential, an LRU set of prefix
// hashes.
type promptCache struct {
	mu       sync.Mutex
	seed     maphash.Seed
	perCred  int
	maxCreds int
	creds    map[string]*list.Element // of *credPrompts
	credLRU  list.List                // most recently used first
}

// credPrompts is one credential's cached prefixes.
type credPrompts struct {
	cred     string
	prefixes map[uint64]*list.Element // of uint64
	lru      list.List                // most recently used first
}

func newPromptCache(perCred, maxCreds int) *promptCache {
	return &promptCache{seed: maphash.MakeSeed(), perCred: perCred, maxCreds: maxCreds, creds: map[string]*list.Element{}}
}

// lookupAndStore returns how many leading blocks of the prompt cred has sent
// before with model, then stores every prefix of it for cred.
func (c *promptCache) lookupAndStore(cred, model string, blocks [][]byte) int {
	hashes := c.prefixHashes(model, blocks)
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := c.credential(cred)
	read := 0
	for i := len(hashes) - 1; i >= 0; i-- {
		if _, ok := cp.prefixes[hashes[i]]; ok {
			read = i + 1
			break
		}
	}
	for _, h := range hashes {
		cp.store(h, c.perCred)
	}
	return read
}

// prefixHashes returns the hash of each prefix of blocks (of model): the
// hash of prefix i covers the model and blocks 0..i, each with its length.
func (c *promptCache) prefixHashes(model string, blocks [][]byte) []uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	_, _ = h.WriteString(model)
	out := make([]uint64, len(blocks))
	var n [8]byte
	for i, b := range blocks {
		binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		_, _ = h.Write(n[:])
		_, _ = h.Write(b)
		out[i] = h.Sum64()
	}
	return out
}

// credential returns cred's cache, creating it (and dropping the least
// recently used credential's beyond maxCreds). Called with mu held.
func (c *promptCache) credential(cred string) *credPrompts {
	if e, ok := c.creds[cred]; ok {
		c.credLRU.MoveToFront(e)
		return e.Value.(*credPrompts)
	}
	if len(c.creds) >= c.maxCreds {
		oldest := c.credLRU.Back()
		c.credLRU.Remove(oldest)
		delete(c.creds, oldest.Value.(*credPrompts).cred)
	}
	cp := &credPrompts{cred: cred, prefixes: map[uint64]*list.Element{}}
	c.creds[cred] = c.credLRU.PushFront(cp)
	return cp
}

// store adds (or refreshes) one prefix hash, dropping the least recently
// used beyond limit.
func (cp *credPrompts) store(h uint64, limit int) {
	if e, ok := cp.prefixes[h]; ok {
		cp.lru.MoveToFront(e)
		return
	}
	if len(cp.prefixes) >= limit {
		oldest := cp.lru.Back()
		cp.lru.Remove(oldest)
		delete(cp.prefixes, oldest.Value.(uint64))
	}
	cp.prefixes[h] = cp.lru.PushFront(h)
}
