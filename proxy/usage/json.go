package usage

import (
	"bytes"
	"unicode/utf8"
)

// The streaming JSON reader.
//
// A response is read byte by byte, in whatever pieces the network delivers, by a state machine
// that knows only the few objects that can hold usage. Each API has a tiny tree of them
// (nodes): for OpenAI chat, the root object and its "usage" object with its two "details"
// objects. Inside a known object the reader parses keys exactly; every other value (message
// text, choices, tool calls, embeddings, …) is skipped by counting brackets outside strings,
// which needs one counter whatever its size or depth. Memory is therefore constant, and a key
// named "usage" nested anywhere else (say in a tool call's arguments) is never mistaken for
// the real one.

// field is a usage figure as the provider names it; Scanner.Usage normalises them per API.
type field uint8

const (
	fNone       field = iota
	fIn               // prompt_tokens, input_tokens, promptTokenCount
	fOut              // completion_tokens, output_tokens, candidatesTokenCount
	fCacheRead        // cached_tokens, cache_read_input_tokens, cachedContentTokenCount
	fCacheWrite       // cache_creation_input_tokens
	fReasoning        // reasoning_tokens, thoughtsTokenCount
	fToolPrompt       // toolUsePromptTokenCount
	nFields
)

// member is a key of a known object and what its value means.
type member struct {
	name    string
	node    uint8 // the value is an object read as this node (nodeNone: skipped)
	field   field // the value is a number to read
	model   bool  // the value is the model name
	usage   bool  // the root "usage" member (Filter removes it)
	choices bool  // the root "choices" member (Filter checks whether it is empty)
}

type node struct {
	members []member
	usage   bool // closing this object commits the figures read inside it
}

const (
	nodeNone  uint8 = iota
	nodeArray       // a top-level array whose objects are documents (Gemini's JSON stream)
	nodeOpenAI
	nodeOpenAIUsage
	nodeOpenAIPromptDetails
	nodeOpenAICompletionDetails
	nodeResponses
	nodeResponsesResponse
	nodeResponsesUsage
	nodeResponsesInputDetails
	nodeResponsesOutputDetails
	nodeAnthropic
	nodeAnthropicMessage
	nodeAnthropicUsage
	nodeGemini
	nodeGeminiUsage
	nNodes
)

var nodes = [nNodes]node{
	// chat.completion, chat.completion.chunk, text_completion and embedding list objects.
	nodeOpenAI: {members: []member{
		{name: "model", model: true},
		{name: "usage", node: nodeOpenAIUsage, usage: true},
		{name: "choices", choices: true},
	}},
	nodeOpenAIUsage: {usage: true, members: []member{
		{name: "prompt_tokens", field: fIn},
		{name: "completion_tokens", field: fOut},
		{name: "prompt_tokens_details", node: nodeOpenAIPromptDetails},
		{name: "completion_tokens_details", node: nodeOpenAICompletionDetails},
	}},
	nodeOpenAIPromptDetails:     {members: []member{{name: "cached_tokens", field: fCacheRead}}},
	nodeOpenAICompletionDetails: {members: []member{{name: "reasoning_tokens", field: fReasoning}}},

	// A response object (JSON body), or a streaming event that carries one under "response"
	// (response.created … response.completed / response.incomplete / response.failed).
	nodeResponses: {members: []member{
		{name: "model", model: true},
		{name: "usage", node: nodeResponsesUsage},
		{name: "response", node: nodeResponsesResponse},
	}},
	nodeResponsesResponse: {members: []member{
		{name: "model", model: true},
		{name: "usage", node: nodeResponsesUsage},
	}},
	nodeResponsesUsage: {usage: true, members: []member{
		{name: "input_tokens", field: fIn},
		{name: "output_tokens", field: fOut},
		{name: "input_tokens_details", node: nodeResponsesInputDetails},
		{name: "output_tokens_details", node: nodeResponsesOutputDetails},
	}},
	nodeResponsesInputDetails:  {members: []member{{name: "cached_tokens", field: fCacheRead}}},
	nodeResponsesOutputDetails: {members: []member{{name: "reasoning_tokens", field: fReasoning}}},

	// A message (JSON body), message_start (under "message") and message_delta (top-level usage).
	nodeAnthropic: {members: []member{
		{name: "model", model: true},
		{name: "usage", node: nodeAnthropicUsage},
		{name: "message", node: nodeAnthropicMessage},
	}},
	nodeAnthropicMessage: {members: []member{
		{name: "model", model: true},
		{name: "usage", node: nodeAnthropicUsage},
	}},
	nodeAnthropicUsage: {usage: true, members: []member{
		{name: "input_tokens", field: fIn},
		{name: "output_tokens", field: fOut},
		{name: "cache_creation_input_tokens", field: fCacheWrite},
		{name: "cache_read_input_tokens", field: fCacheRead},
	}},

	// GenerateContentResponse (and the few embedding responses that report usage).
	nodeGemini: {members: []member{
		{name: "modelVersion", model: true},
		{name: "usageMetadata", node: nodeGeminiUsage},
	}},
	nodeGeminiUsage: {usage: true, members: []member{
		{name: "promptTokenCount", field: fIn},
		{name: "candidatesTokenCount", field: fOut},
		{name: "cachedContentTokenCount", field: fCacheRead},
		{name: "thoughtsTokenCount", field: fReasoning},
		{name: "toolUsePromptTokenCount", field: fToolPrompt},
	}},
}

// rootOf returns the node of a response document of api (nodeNone: nothing to read).
func rootOf(api API) uint8 {
	switch api {
	case OpenAIChat, OpenAICompletions, OpenAIEmbeddings:
		return nodeOpenAI
	case OpenAIResponses:
		return nodeResponses
	case AnthropicMessages:
		return nodeAnthropic
	case GeminiGenerate, GeminiEmbed:
		return nodeGemini
	}
	return nodeNone
}

// JSON reader states.
const (
	jsTop     uint8 = iota // before a top-level value
	jsArr                  // in the top-level array: a value, ',' or ']'
	jsKey                  // in a known object: a key, ',' or '}'
	jsColon                // after a key
	jsVal                  // before a member's value
	jsAfter                // after a member's value: ',' or '}' (states up to here skip whitespace)
	jsKeyStr               // reading a key
	jsSkip                 // inside a skipped object or array
	jsSkipStr              // inside a skipped string value
	jsStr                  // reading the model string
	jsNum                  // reading a wanted number
	jsScalar               // skipping a number or a literal
	jsChoices              // just after the root "choices": [ (is it empty?)
	jsErr                  // not JSON we understand: ignore the rest of the document
)

// Number reader phases.
const (
	numInt uint8 = iota
	numFrac
	numExpSign
	numExp
)

const (
	maxDepth = 8   // known objects nest at most 5 deep (array, root, response, usage, details)
	keyMax   = 32  // longer keys are not ours
	modelMax = 256 // longer model names are ignored
)

// space marks JSON whitespace.
var space = [256]bool{' ': true, '\n': true, '\r': true, '\t': true}

// strStop marks the bytes that end a run of plain string content.
var strStop = [256]bool{'"': true, '\\': true}

// structural marks the bytes that matter when skipping a value outside strings.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// resetJSON starts a new document (a new SSE event).
func (s *Scanner) resetJSON() {
	s.js = jsTop
	s.depth = 0
	s.skip = 0
	s.inStr = false
	s.esc = false
}

// feedJSON advances the reader over p. s.base is the position of p[0] in the held event (only
// used by Filter).
func (s *Scanner) feedJSON(p []byte) {
	i := 0
	for i < len(p) {
		if s.js <= jsAfter { // states between tokens: skip whitespace (pretty-printed bodies) in one go
			for i < len(p) && space[p[i]] {
				i++
			}
			if i == len(p) {
				break
			}
		}
		switch s.js {
		case jsTop:
			c := p[i]
			switch {
			case c == '{':
				i++
				s.push(s.root, jsKey)
			case c == '[':
				i++
				s.push(nodeArray, jsArr)
			default:
				s.js = jsErr
			}

		case jsArr:
			c := p[i]
			switch {
			case c == ',':
				i++
			case c == ']':
				i++
				s.depth--
				s.valueDone(i)
			case c == '{':
				i++
				s.push(s.root, jsKey)
			default: // some other value: skip it
				s.kid = member{}
				s.js = jsVal
			}

		case jsKey:
			c := p[i]
			switch {
			case c == ',':
				i++
			case c == '"':
				if s.strip && s.depth == 1 {
					s.ev.keyStart = s.base + i
				}
				i++
				s.keyLen = 0
				s.js = jsKeyStr
			case c == '}':
				i++
				s.closeObject(i)
			default:
				s.js = jsErr
			}

		case jsKeyStr:
			if !s.esc && s.keyLen == 0 { // fast path: the whole plain key is here
				j, end := i, min(len(p), i+keyMax+1)
				for j < end && !strStop[p[j]] {
					j++
				}
				if j < end && p[j] == '"' {
					s.resolveKey(p[i:j])
					i = j + 1
					s.js = jsColon
					break
				}
			}
			n, closed := s.scanStr(p[i:])
			seg := p[i : i+n]
			i += n
			if closed {
				seg = seg[:len(seg)-1]
			}
			if s.keyLen+len(seg) <= keyMax {
				s.keyLen += copy(s.key[s.keyLen:], seg)
			} else {
				s.keyLen = keyMax + 1
			}
			if closed {
				if s.keyLen <= keyMax {
					s.resolveKey(s.key[:s.keyLen])
				} else {
					s.resolveKey(nil)
				}
				s.js = jsColon
			}

		case jsColon:
			c := p[i]
			i++
			if c == ':' {
				s.js = jsVal
			} else {
				s.js = jsErr
			}

		case jsVal:
			c := p[i]
			switch {
			case c == '{':
				i++
				if s.kid.node != nodeNone {
					if s.strip && s.kid.usage && s.depth == 1 {
						s.ev.usageObj = true
					}
					s.push(s.kid.node, jsKey)
				} else {
					s.skip, s.inStr, s.js = 1, false, jsSkip
				}
			case c == '[':
				i++
				s.skip, s.inStr, s.js = 1, false, jsSkip
				if s.strip && s.kid.choices && s.depth == 1 {
					s.js = jsChoices
				}
			case c == '"':
				i++
				if s.kid.model && s.modelLen == 0 {
					s.capLen = 0
					s.js = jsStr
				} else {
					s.js = jsSkipStr
				}
			case c == '-' || c >= '0' && c <= '9':
				if s.kid.field != fNone {
					s.num, s.numScale, s.numFrac, s.numExp = 0, 0, 0, 0
					s.numPhase, s.numDigits, s.numNeg, s.numExpNeg, s.numBad = numInt, 0, false, false, false
					s.js = jsNum
				} else {
					s.js = jsScalar
				}
			case c >= 'a' && c <= 'z': // true, false, null
				s.js = jsScalar
			default:
				s.js = jsErr
			}

		case jsAfter:
			c := p[i]
			switch {
			case c == ',':
				if s.strip && s.depth == 1 {
					s.rootComma(s.base + i)
				}
				i++
				s.js = jsKey
			case c == '}':
				i++
				s.closeObject(i)
			default:
				s.js = jsErr
			}

		case jsSkip:
			n, done := s.skipIn(p[i:])
			i += n
			if done {
				s.valueDone(i)
			}

		case jsSkipStr:
			n, closed := s.scanStr(p[i:])
			i += n
			if closed {
				s.valueDone(i)
			}

		case jsStr:
			n, closed := s.scanStr(p[i:])
			seg := p[i : i+n]
			i += n
			if closed {
				seg = seg[:len(seg)-1]
			}
			if s.capLen+len(seg) <= modelMax {
				s.capLen += copy(s.cap[s.capLen:], seg)
			} else {
				s.capLen = modelMax + 1
			}
			if closed {
				s.setModel()
				s.valueDone(i)
			}

		case jsNum:
			for i < len(p) && s.js == jsNum {
				if s.numByte(p[i]) {
					i++
				} else {
					s.finishNum()
					s.valueDone(i)
				}
			}

		case jsScalar:
			for i < len(p) {
				c := p[i]
				if c == ',' || c == '}' || c == ']' || isSpace(c) {
					s.valueDone(i)
					break
				}
				i++
			}

		case jsChoices:
			c := p[i]
			switch {
			case isSpace(c):
				i++
			case c == ']':
				i++
				s.ev.choicesEmpty = true
				s.valueDone(i)
			default:
				s.js = jsSkip // s.skip is already 1
			}

		default: // jsErr
			return
		}
	}
}

// push opens a known object (or the top-level array) and moves to state st.
func (s *Scanner) push(n uint8, st uint8) {
	if int(s.depth) == len(s.stack) {
		s.js = jsErr // cannot happen with the trees above; kept so that memory stays fixed
		return
	}
	s.stack[s.depth] = n
	s.depth++
	s.js = st
	if nodes[n].usage {
		s.pend = [nFields]int64{}
		s.pendSeen = 0
	}
	if s.strip && s.depth == 1 {
		s.ev.lastComma = -1
	}
}

// closeObject handles the '}' of a known object; i is the position just after it.
func (s *Scanner) closeObject(i int) {
	if nodes[s.stack[s.depth-1]].usage {
		s.commit()
	}
	s.depth--
	s.valueDone(i)
}

// valueDone is called when a value inside the current container has ended just before p[i].
func (s *Scanner) valueDone(i int) {
	if s.strip && s.depth == 1 {
		s.rootValueEnd(s.base + i)
	}
	switch {
	case s.depth == 0:
		s.js = jsTop
	case s.stack[s.depth-1] == nodeArray:
		s.js = jsArr
	default:
		s.js = jsAfter
	}
}

// resolveKey looks the key just read (raw, nil if too long) up among the members of the
// current object.
func (s *Scanner) resolveKey(key []byte) {
	s.kid = member{}
	ms := nodes[s.stack[s.depth-1]].members
	for j := range ms {
		if len(key) == len(ms[j].name) && string(key) == ms[j].name {
			s.kid = ms[j]
			break
		}
	}
	if s.strip && s.depth == 1 && s.kid.usage {
		s.rootUsageKey()
	}
}

// commit takes the figures of a usage object that has just closed. Anthropic splits one
// message's usage over message_start and message_delta, and the later value of a figure is
// the cumulative one, so figures are merged one by one (each counted once); the other APIs
// repeat complete, cumulative usage objects, so the last one replaces what came before.
func (s *Scanner) commit() {
	if s.pendSeen == 0 {
		return
	}
	if s.api == AnthropicMessages {
		for f := range nFields {
			if s.pendSeen&(1<<f) != 0 {
				s.val[f] = s.pend[f]
			}
		}
	} else {
		s.val = s.pend
	}
	s.got = true
}

// scanStr advances over the inside of a string, returning the bytes consumed and whether the
// closing quote (included in n) was reached. A backslash that ends p is remembered in s.esc.
func (s *Scanner) scanStr(p []byte) (n int, closed bool) {
	i := 0
	if s.esc {
		if len(p) == 0 {
			return 0, false
		}
		s.esc = false
		i = 1
	}
	// Most strings (keys, ids, enums, small deltas) end within a few bytes: a plain loop is
	// cheaper there than two memchr calls.
	for end := min(len(p), i+24); i < end; i++ {
		switch p[i] {
		case '"':
			return i + 1, true
		case '\\':
			i++ // the loop's i++ skips the escaped byte
			if i == len(p) {
				s.esc = true
				return len(p), false
			}
		}
	}
	q := -1 // position of the next quote at or after i; len(p) when there is none
	for {
		if q < i {
			if j := bytes.IndexByte(p[i:], '"'); j >= 0 {
				q = i + j
			} else {
				q = len(p)
			}
		}
		b := bytes.IndexByte(p[i:q], '\\')
		if b < 0 {
			if q == len(p) {
				return len(p), false
			}
			return q + 1, true
		}
		i += b + 2 // the backslash and the byte it escapes
		if i > len(p) {
			s.esc = true
			return len(p), false
		}
	}
}

// skipIn advances inside a skipped object or array; done when its closing bracket is consumed.
func (s *Scanner) skipIn(p []byte) (n int, done bool) {
	i := 0
	for i < len(p) {
		if s.inStr {
			if !s.esc { // short strings end quickly
				for end := min(len(p), i+16); i < end && !strStop[p[i]]; i++ {
				}
				if i < len(p) && p[i] == '"' {
					i++
					s.inStr = false
					continue
				}
			}
			n, closed := s.scanStr(p[i:])
			i += n
			if closed {
				s.inStr = false
			}
			continue
		}
		for i < len(p) && !structural[p[i]] {
			i++
		}
		if i == len(p) {
			break
		}
		c := p[i]
		i++
		switch c {
		case '"':
			s.inStr = true
		case '{', '[':
			s.skip++
		default: // '}' or ']'
			s.skip--
			if s.skip == 0 {
				return i, true
			}
		}
	}
	return i, false
}

// numByte takes one byte of a wanted number; false when c ends it.
func (s *Scanner) numByte(c byte) bool {
	switch {
	case c >= '0' && c <= '9':
		d := int64(c - '0')
		switch s.numPhase {
		case numInt, numFrac:
			s.numDigits++
			if s.num < 1e17 {
				s.num = s.num*10 + d
				if s.numPhase == numFrac {
					s.numFrac++
				}
			} else if s.numPhase == numInt {
				s.numScale++ // a dropped integer digit
			}
		default:
			s.numPhase = numExp
			if s.numExp < 1000 {
				s.numExp = s.numExp*10 + int(d)
			}
		}
	case c == '-':
		switch {
		case s.numPhase == numInt && s.numDigits == 0 && !s.numNeg:
			s.numNeg = true
		case s.numPhase == numExpSign && !s.numExpNeg:
			s.numExpNeg = true
		default:
			s.numBad = true
		}
	case c == '+':
		if s.numPhase != numExpSign {
			s.numBad = true
		}
	case c == '.':
		if s.numPhase != numInt {
			s.numBad = true
		}
		s.numPhase = numFrac
	case c == 'e' || c == 'E':
		if s.numPhase != numInt && s.numPhase != numFrac {
			s.numBad = true
		}
		s.numPhase = numExpSign
	default:
		return false
	}
	return true
}

// maxCount caps a figure, so that sums of figures cannot overflow whatever the input says.
const maxCount = 1e15

// finishNum stores the number just read into the pending figures (integer part; a negative
// count is read as 0, an absurd one as maxCount).
func (s *Scanner) finishNum() {
	if s.numBad || s.numDigits == 0 || s.kid.field == fNone {
		return
	}
	v := s.num
	e := s.numScale - s.numFrac
	if s.numExpNeg {
		e -= s.numExp
	} else {
		e += s.numExp
	}
	for ; e > 0 && v > 0 && v < maxCount; e-- {
		v *= 10
	}
	for ; e < 0 && v > 0; e++ {
		v /= 10
	}
	if s.numNeg {
		v = 0
	}
	v = min(v, maxCount)
	s.pend[s.kid.field] = v
	s.pendSeen |= 1 << s.kid.field
}

// setModel keeps the model string just read (JSON escapes decoded). The first one wins:
// streams repeat the same model on every chunk, and the event filter in scanSSE relies on it.
func (s *Scanner) setModel() {
	if s.capLen > modelMax || s.modelLen > 0 {
		return // too long to be a model name, or already known
	}
	raw := s.cap[:s.capLen]
	if bytes.IndexByte(raw, '\\') < 0 {
		s.modelLen = copy(s.model[:], raw)
		return
	}
	s.modelLen = len(unescapeJSON(s.model[:0], raw))
}

// unescapeJSON appends the decoded form of the inside of a JSON string to dst. It never grows
// dst beyond len(raw) (an escape is never shorter than what it stands for), so a fixed buffer
// of that size suffices.
func unescapeJSON(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 == len(raw) {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n := decodeU(raw[i+1:])
			if n == 0 {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += n
			if r >= 0xD800 && r < 0xDC00 && i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if r2, n2 := decodeU(raw[i+3:]); n2 > 0 && r2 >= 0xDC00 && r2 < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 2 + n2
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/' and anything else stand for themselves
			dst = append(dst, raw[i])
		}
	}
	return dst
}

// decodeU reads the four hex digits of a \u escape.
func decodeU(b []byte) (rune, int) {
	if len(b) < 4 {
		return 0, 0
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, 0
		}
	}
	return r, 4
}
