package usage

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"
)

// MaxEventBytes bounds what Filter holds of one SSE event while deciding whether to forward
// it. A longer event is forwarded unchanged as it arrives. The usage scan itself holds nothing.
const MaxEventBytes = 256 << 10

// Scanner extracts usage incrementally from a response body as it passes through.
//
// The zero value reads nothing; call Reset before each response. A Scanner is meant to be
// pooled (sync.Pool) and reused: Reset keeps its buffers, and scanning allocates nothing. It
// is not safe for concurrent use; one request owns it at a time. It must not be copied after
// first use.
type Scanner struct {
	scanState // everything Reset clears: small and free of pointers, so clearing is cheap

	usageKey *sseKey // `usage"` or `usageMetadata"`: events without that key hold no usage
	modelKey *sseKey // `model"` or `modelVersion"`
	modelStr string  // the last model string made by Usage, reused while it matches (kept by Reset)
	hold     []byte  // Filter: the SSE event being held

	// Buffers, read only up to their lengths in scanState (so Reset need not clear them).
	key   [keyMax]byte   // key being read across Writes
	cap   [modelMax]byte // raw model string being read across Writes
	model [modelMax]byte
}

type scanState struct {
	api    API
	format Format
	root   uint8 // document node of api; nodeNone: nothing to read

	// SSE framing.
	ln        uint8 // line state
	field     [4]byte
	fieldLen  int
	prevCR    bool // the last line ended with '\r': a '\n' next belongs to it
	noEnd     bool // the current input holds no further event end (see eventEnd)
	holdAt    int  // Write: position in the input of the next key that may matter (nextHold); -1: not known
	skipTo    int  // Write: end of the last event before holdAt (lastEventEnd)
	lastTried bool // Write: the last event holding something has been read first (lastHolding)

	// JSON reader (json.go).
	js        uint8
	depth     uint8
	stack     [maxDepth]uint8
	skip      int  // nesting inside a skipped value
	inStr     bool // inside a string within a skipped value
	esc       bool // a backslash ended the last input while inside a string
	kid       role // what the value of the key just read is
	keyLen    int
	capLen    int
	num       int64
	numScale  int
	numFrac   int
	numExp    int
	numDigits int
	numPhase  uint8
	numNeg    bool
	numExpNeg bool
	numBad    bool
	base      int // position of the fed bytes in the held event (Filter)

	// Figures of the usage object being read, and those committed so far.
	pend     [nFields]int64
	pendSeen uint16
	val      [nFields]int64
	got      bool
	commits  uint32 // usage objects committed
	modelLen int

	// Filter (filter.go).
	strip       bool
	passing     bool // the current event outgrew MaxEventBytes and is being passed through
	lastDropped bool // the previous event was dropped
	crEnd       bool // the previous event ended with a '\r' that ended the input: a '\n' may follow
	ev          eventInfo
}

// SSE line states.
const (
	lnStart  uint8 = iota // at the start of a line
	lnField               // reading a field name
	lnValue0              // after "data:", before the optional space
	lnData                // in a data value
	lnIgnore              // in a comment or another field
)

// Reset prepares s for a new response of api in format f. Buffers are kept; a large held
// buffer is dropped so that a pooled Scanner does not keep it alive.
func (s *Scanner) Reset(api API, f Format) {
	if cap(s.hold) > 64<<10 {
		s.hold = nil
	}
	s.hold = s.hold[:0]
	s.scanState = scanState{api: api, format: f, root: rootOf(api)}
	s.usageKey, s.modelKey = &sseKeys[0], &sseKeys[1]
	if s.root == nodeGemini {
		s.usageKey, s.modelKey = &sseKeys[2], &sseKeys[3]
	}
	s.ev.reset()
}

// Write scans p for usage. It always consumes all of p, never fails and does not keep p.
func (s *Scanner) Write(p []byte) (int, error) {
	if s.root == nodeNone {
		return len(p), nil
	}
	if s.format != FormatSSE {
		s.base = 0
		s.feedJSON(p)
		return len(p), nil
	}
	s.noEnd, s.holdAt, s.lastTried = false, -1, false
	for q := p; len(q) > 0; { // one call unless stripping, which returns at every event end
		n, _ := s.scanSSE(q, 0)
		q = q[n:]
		s.holdAt = -1
	}
	return len(p), nil
}

// Usage returns what was read so far, normalised (see Usage). It may be called at any time;
// after a truncated body it holds the last complete usage object seen, if any.
func (s *Scanner) Usage() Usage {
	var u Usage
	if m := s.model[:s.modelLen]; len(m) > 0 {
		if string(m) != s.modelStr {
			s.modelStr = string(m) // pooled scanners mostly see the same few models
		}
		u.Model = s.modelStr
	}
	if !s.got {
		return u
	}
	v := &s.val
	u.Source = SourceResponse
	u.CacheReadTokens = v[fCacheRead]
	u.ReasoningTokens = v[fReasoning]
	switch s.api {
	case AnthropicMessages:
		// input_tokens counts only the uncached part of the prompt.
		u.CacheCreationTokens = v[fCacheWrite]
		u.CacheWrite5mTokens, u.CacheWrite1hTokens = v[fCacheWrite5m], v[fCacheWrite1h]
		u.PromptTokens = v[fIn] + v[fCacheWrite] + v[fCacheRead]
		u.CompletionTokens = v[fOut]
	case GeminiGenerate, GeminiEmbed:
		// promptTokenCount includes the cached content; thoughts and tool-use prompts are
		// counted apart from candidates and the prompt, and billed as output and input.
		u.PromptTokens = v[fIn] + v[fToolPrompt]
		u.CompletionTokens = v[fOut] + v[fReasoning]
	default:
		// OpenAI counts cached tokens inside prompt_tokens and reasoning inside completion_tokens.
		u.PromptTokens = v[fIn]
		u.CompletionTokens = v[fOut]
	}
	return u
}

// scanSSE advances the SSE framing over p until the end of an event (the terminating blank
// line included) or of p. base is the position of p[0] in the held event. It returns the bytes
// consumed and whether an event ended.
func (s *Scanner) scanSSE(p []byte, base int) (n int, ended bool) {
	i := 0
	for i < len(p) {
		switch s.ln {
		case lnStart:
			c := p[i]
			if s.prevCR {
				s.prevCR = false
				if c == '\n' {
					i++
					continue
				}
			}
			if c != '\n' && c != '\r' && s.js == jsTop && !s.noEnd {
				// Between documents: step over the events that cannot hold anything we read
				// without parsing them (most chunks of a stream).
				if !s.strip {
					// Every complete event before the next key that may matter, at once.
					if s.holdAt < i {
						s.holdAt = s.nextHold(p, i)
						s.skipTo = lastEventEnd(p, i, s.holdAt)
					}
					if s.skipTo > i {
						i = s.skipTo
						s.endEvent()
						continue
					}
					if s.holdAt == len(p) {
						s.noEnd = true // the event is not complete in this input
					} else if !s.lastTried && s.modelLen > 0 && s.api != AnthropicMessages {
						// Streams that repeat their cumulative usage on every chunk: a usage
						// object that commits replaces what the ones before it committed
						// (Anthropic merges figures instead), and with the model known nothing
						// else in an event lasts. So when the last complete event of p that
						// holds something commits one, the events before it need no reading.
						s.lastTried = true
						if j, e := s.lastHolding(p, i); j > i {
							if n := s.commits; s.readEvent(p[j:e]) != n {
								i, s.holdAt = e, -1
								continue
							}
						}
					}
				} else if n := eventEnd(p[i:]); n < 0 {
					s.noEnd = true // not in this input: do not search again until the next one
				} else if !s.mayHold(p[i : i+n]) {
					s.endEvent()
					return i + n, true // Filter forwards (or drops) events one by one
				}
			}
			switch c {
			case '\n':
				s.endEvent()
				if i++; s.strip {
					return i, true
				}
				continue
			case '\r':
				i++
				if i < len(p) {
					if p[i] == '\n' {
						i++
					}
				} else {
					s.prevCR = true
					s.crEnd = true
				}
				s.endEvent()
				if s.strip {
					return i, true
				}
				continue
			case ':':
				s.ln = lnIgnore
				i++
			default:
				s.ln = lnField
				s.fieldLen = 0
			}

		case lnField:
			for i < len(p) {
				c := p[i]
				if c == ':' || c == '\n' || c == '\r' {
					if c == ':' {
						i++
						s.ln = lnIgnore
						if s.fieldLen == 4 && string(s.field[:]) == "data" {
							s.ln = lnValue0
						}
					} else {
						s.ln = lnIgnore // a field without a value: let lnIgnore end the line
					}
					break
				}
				if s.fieldLen < len(s.field) {
					s.field[s.fieldLen] = c
				}
				s.fieldLen++
				i++
			}

		case lnValue0:
			if p[i] == ' ' {
				i++
			}
			s.ln = lnData

		case lnData:
			j := indexEOL(p[i:])
			if j < 0 {
				s.base = base + i
				s.feedJSON(p[i:])
				i = len(p)
				break
			}
			s.base = base + i
			s.feedJSON(p[i : i+j])
			// Data lines of one event are joined by "\n", which JSON reads as a separator.
			s.base = base + i + j
			s.feedJSON(newline)
			i += j
			s.endLine(p[i])
			i++

		default: // lnIgnore
			j := indexEOL(p[i:])
			if j < 0 {
				i = len(p)
				break
			}
			i += j
			s.endLine(p[i])
			i++
		}
	}
	return i, false
}

var newline = []byte{'\n'}

func (s *Scanner) endLine(c byte) {
	s.ln = lnStart
	s.prevCR = c == '\r'
}

// endEvent ends the current SSE event: the next data starts a new JSON document.
func (s *Scanner) endEvent() {
	s.ln = lnStart
	s.resetJSON()
}

// eventEnd returns the length of the SSE event text that starts p (at the start of a line),
// up to and including the blank line that ends it ("\n\n" or "\r\n\r\n" after a line), or -1
// when p does not hold it. Events ended by lone '\r's are not recognised here, so several of
// them may be taken as one; that is fine for mayHold, which looks at all of the text.
func eventEnd(p []byte) int {
	k := 0
	for {
		j := bytes.IndexByte(p[k:], '\n')
		if j < 0 {
			return -1
		}
		k += j + 1
		if k < len(p) && p[k] == '\n' {
			return k + 1
		}
		if k+1 < len(p) && p[k] == '\r' && p[k+1] == '\n' {
			return k + 2
		}
	}
}

// mayHold reports whether the complete event text ev may change what is read: it has a
// usage key whose value is not null, or the model is still unknown and it has a model key.
// When stripping, any usage key counts (Filter cuts "usage":null out). The keys are searched
// without their opening quote, which is checked after: '"' is the most frequent byte of JSON
// and a poor byte to search for.
func (s *Scanner) mayHold(ev []byte) bool {
	if s.modelLen == 0 && hasKey(ev, 0, s.modelKey) >= 0 {
		return true
	}
	for j := 0; ; {
		if j = hasKey(ev, j, s.usageKey); j < 0 {
			return false
		}
		if s.strip || usageMatters(ev, j) {
			return true
		}
	}
}

// usageMatters tells, for a usage key that ends just before ev[j], whether it may matter: it is
// followed by a colon and a value that is not null (what follows is not that key's value, or
// ev ends before the colon: no; ev ends after it: yes).
func usageMatters(ev []byte, j int) bool {
	k := skipSpace(ev, j)
	if k == len(ev) || ev[k] != ':' {
		return false // a string "usage", not a key
	}
	k = skipSpace(ev, k+1)
	return k == len(ev) || ev[k] != 'n'
}

// usageMattersAt is usageMatters for the usage key that ends just before p[j], with the event
// that holds it going on in p: what follows is most often read without reaching a line end,
// and so without looking for the end of the event.
func usageMattersAt(p []byte, j int) bool {
	if j+1 < len(p) && p[j] == ':' && p[j+1] > ' ' { // "usage":v
		return p[j+1] != 'n'
	}
	k := j
	for k < len(p) && (p[k] == ' ' || p[k] == '\t') {
		k++
	}
	if k < len(p) && p[k] != '\n' && p[k] != '\r' {
		if p[k] != ':' {
			return false
		}
		for k++; k < len(p) && (p[k] == ' ' || p[k] == '\t'); k++ {
		}
		if k < len(p) && p[k] != '\n' && p[k] != '\r' {
			return p[k] != 'n'
		}
	}
	return usageMatters(p[:j+eventRest(p[j:])], j)
}

// sseKey is a key that mayHold looks for, ready for hasKey.
type sseKey struct {
	name   string    // the key and its closing quote
	anchor int       // anchor(name)
	pat    [2]uint64 // `"`+name, zero-padded to sixteen bytes (every name is shorter)
	mask   [2]uint64 // its bytes in pat
}

// sseKeys holds the usage and model keys of OpenAI and Anthropic, then of Gemini.
var sseKeys = [4]sseKey{newSSEKey(`usage"`), newSSEKey(`model"`), newSSEKey(`usageMetadata"`), newSSEKey(`modelVersion"`)}

func newSSEKey(name string) sseKey {
	var b [16]byte
	n := copy(b[1:], name) + 1
	b[0] = '"'
	return sseKey{name: name, anchor: anchor(name),
		pat:  [2]uint64{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])},
		mask: [2]uint64{byteMask(n), byteMask(n - 8)}}
}

// hasKey returns the position just past the first `"`+key in b that starts at or after b[off]
// (the quote excluded when off > 0: it may close the previous key), or -1. The search is for
// the key's rarest byte (anchor), then around it: fewer false starts than with its first byte.
func hasKey(b []byte, off int, key *sseKey) int {
	a, n, c := key.anchor, len(key.name), key.name[key.anchor]
	end := len(b) - n + a + 1 // anchors at or after end leave no room for the key
	for k := off + 1 + a; k < end; k++ {
		j := bytes.IndexByte(b[k:end], c)
		if j < 0 {
			break
		}
		k += j
		q := k - a - 1 // the opening quote
		if q+16 > len(b) {
			if b[q] == '"' && string(b[q+1:q+1+n]) == key.name {
				return q + 1 + n
			}
			continue
		}
		if w := b[q : q+16]; binary.LittleEndian.Uint64(w)&key.mask[0] == key.pat[0] &&
			binary.LittleEndian.Uint64(w[8:])&key.mask[1] == key.pat[1] {
			return q + 1 + n
		}
	}
	return -1
}

// anchor returns the index of the byte of key least frequent in JSON text: an upper-case
// letter, else the rarest lower-case one in English, else the first byte.
func anchor(key string) int {
	best, rank := 0, len(letterRank)
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'A' && c <= 'Z' {
			return i
		}
		if r := strings.IndexByte(letterRank, c); r >= 0 && r < rank {
			best, rank = i, r
		}
	}
	return best
}

// letterRank lists the lower-case letters from the least to the most frequent in English.
const letterRank = "zqxjkvbpygfwmucldrhsnioate"

// nextHold returns the position of the first key at or after p[i] that makes its event hold
// something for mayHold, or len(p): scanSSE steps over all the events before it at once, which
// is what stepping over them one by one with mayHold would do. The event of a key ends at the
// first event end after it (eventEnd), which bounds what mayHold looks at after a usage key.
func (s *Scanner) nextHold(p []byte, i int) int {
	h := len(p)
	if s.modelLen == 0 {
		if j := hasKey(p, i, s.modelKey); j >= 0 {
			h = j - len(s.modelKey.name) - 1
		}
	}
	for j := i; ; {
		if j = hasKey(p[:h], j, s.usageKey); j < 0 {
			return h
		}
		if usageMattersAt(p, j) {
			return j - len(s.usageKey.name) - 1
		}
	}
}

// lastHolding returns the last complete event of p after the one that starts at p[i] (which
// holds something) that holds something too, as [j, e), or j == i when there is none.
func (s *Scanner) lastHolding(p []byte, i int) (j, e int) {
	j, e = i, i
	for from := i; ; {
		n := eventEnd(p[from:])
		if n < 0 {
			return j, e
		}
		end := from + n
		h := s.nextHold(p, end)
		if h == len(p) {
			return j, e
		}
		start := max(lastEventEnd(p, end, h), end)
		if n = eventEnd(p[start:]); n < 0 {
			return j, e
		}
		j, e, from = start, start+n, start
	}
}

// lastNewline returns the index of the last '\n' in b, or -1: a word at a time, from the end
// (the event being read is most often within a few words of it).
func lastNewline(b []byte) int {
	i := len(b)
	for ; i >= 8; i -= 8 {
		x := binary.LittleEndian.Uint64(b[i-8:i]) ^ 0x0a0a0a0a0a0a0a0a
		if m := ^((x&^hi + ^uint64(hi)) | x) & hi; m != 0 { // exactly the zero bytes of x
			return i - 8 + (63-bits.LeadingZeros64(m))>>3
		}
	}
	for i--; i >= 0 && b[i] != '\n'; i-- {
	}
	return i
}

// readEvent reads the complete event ev (Write's state between events) and returns the number
// of usage objects committed so far.
func (s *Scanner) readEvent(ev []byte) uint32 {
	holdAt, skipTo, noEnd := s.holdAt, s.skipTo, s.noEnd
	s.holdAt, s.noEnd = -1, false
	for len(ev) > 0 {
		n, _ := s.scanSSE(ev, 0)
		ev = ev[n:]
	}
	s.holdAt, s.skipTo, s.noEnd = holdAt, skipTo, noEnd
	return s.commits
}

// eventRest returns the length of the event text that starts at b[0] (not at the start of a
// line), up to and including the blank line that ends it, or len(b), as eventEnd counts it.
func eventRest(b []byte) int {
	for k := 0; ; {
		j := bytes.IndexByte(b[k:], '\n')
		if j < 0 {
			return len(b)
		}
		k += j + 1
		if k < len(b) && b[k] == '\n' {
			return k + 1
		}
		if k+1 < len(b) && b[k] == '\r' && b[k+1] == '\n' {
			return k + 2
		}
	}
}

// lastEventEnd returns the end of the last event (its blank line included, as eventEnd finds
// it) within p[i:h], where p[i] starts a line that is not blank, or i when there is none.
func lastEventEnd(p []byte, i, h int) int {
	b := p[i:h]
	if bytes.IndexByte(b, '\n') < 0 {
		return i // most often h is in the event at i
	}
	for k := len(b); k > 0; {
		j := lastNewline(b[:k])
		if j < 1 {
			break
		}
		if b[j-1] == '\n' || j >= 2 && b[j-1] == '\r' && b[j-2] == '\n' {
			return i + j + 1
		}
		k = j
	}
	return i
}

// indexEOL returns the index of the first '\n' or '\r' in b, or -1.
func indexEOL(b []byte) int {
	j := bytes.IndexByte(b, '\n')
	k := -1
	if j < 0 {
		k = bytes.IndexByte(b, '\r')
	} else if j > 0 {
		k = bytes.IndexByte(b[:j], '\r')
	}
	if k >= 0 {
		return k
	}
	return j
}
