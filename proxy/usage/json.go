package usage

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// The streaming JSON reader.
//
// A response is read in whatever pieces the network delivers by a state machine that knows
// only the few objects that can hold usage. Each API has a tiny tree of them (nodes): for
// OpenAI chat, the root object and its "usage" object with its two "details" objects. Inside
// a known object the reader parses keys exactly; every other value (message text, choices,
// tool calls, embeddings, …) is skipped by counting brackets outside strings, which needs one
// counter whatever its size or depth. Memory is therefore constant, and a key named "usage"
// nested anywhere else (say in a tool call's arguments) is never mistaken for the real one.
//
// The state machine has two levels. Its states between tokens are run by feedTokens, a token
// at a time: strings are searched for their closing quote eight or sixteen bytes at a time
// (SWAR: word arithmetic that tests every byte of a word at once, without a branch per byte),
// keys are looked up in a hash table without collisions, and skipped values are stepped over
// from string to bracket to string. A token that the input holds only in part (it ends a
// Write) is left to the byte-by-byte states of feedJSON, which keep what they have read
// across Writes; feedTokens takes over again after it. Both read the same JSON the same way,
// which the tests check by comparing whole inputs with the same cut byte by byte.

// field is a usage figure as the provider names it; Scanner.Usage normalises them per API.
type field uint8

const (
	fNone         field = iota
	fIn                 // prompt_tokens, input_tokens, promptTokenCount
	fOut                // completion_tokens, output_tokens, candidatesTokenCount
	fCacheRead          // cached_tokens, cache_read_input_tokens, cachedContentTokenCount
	fCacheWrite         // cache_creation_input_tokens
	fReasoning          // reasoning_tokens, thoughtsTokenCount
	fToolPrompt         // toolUsePromptTokenCount
	fCacheWrite5m       // cache_creation.ephemeral_5m_input_tokens
	fCacheWrite1h       // cache_creation.ephemeral_1h_input_tokens
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

// role is a member without its name, packed: what the reader keeps of the key it has just
// read (0: not a member).
type role uint16

const (
	roleModel   role = 1 << 8
	roleUsage   role = 1 << 9
	roleChoices role = 1 << 10
	roleField        = 11 // shift of the field
)

func roleOf(m member) role {
	r := role(m.node) | role(m.field)<<roleField
	if m.model {
		r |= roleModel
	}
	if m.usage {
		r |= roleUsage
	}
	if m.choices {
		r |= roleChoices
	}
	return r
}

func (r role) node() uint8   { return uint8(r) }
func (r role) field() field  { return field(r >> roleField) }
func (r role) model() bool   { return r&roleModel != 0 }
func (r role) usage() bool   { return r&roleUsage != 0 }
func (r role) choices() bool { return r&roleChoices != 0 }

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
	nodeAnthropicCacheCreation
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
		{name: "cache_creation", node: nodeAnthropicCacheCreation},
	}},
	// The split of cache_creation_input_tokens by cache lifetime, priced apart.
	nodeAnthropicCacheCreation: {members: []member{
		{name: "ephemeral_5m_input_tokens", field: fCacheWrite5m},
		{name: "ephemeral_1h_input_tokens", field: fCacheWrite1h},
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
	maxDepth = 8        // known objects nest at most 5 deep (array, root, response, usage, details)
	keyMax   = 32       // longer keys are not ours
	modelMax = MaxModel // longer model names in a response are ignored (the request's is used)
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
		if s.js <= jsAfter { // between tokens: read whole tokens while p holds them
			i = s.feedTokens(p, i)
			if i == len(p) {
				break
			}
			// A token that p holds only in part, or a state the loop below takes: one
			// step byte by byte, then back to whole tokens.
		}
		switch s.js {
		case jsTop:
			c := p[i]
			switch {
			case c == '{':
				i++
				s.js = s.push(s.root, jsKey)
			case c == '[':
				i++
				s.js = s.push(nodeArray, jsArr)
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
				s.js = s.valueDone(i)
			case c == '{':
				i++
				s.js = s.push(s.root, jsKey)
			default: // some other value: skip it
				s.kid = 0
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
				s.js = s.closeObject(i)
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
				if s.kid.node() != nodeNone {
					if s.strip && s.kid.usage() && s.depth == 1 {
						s.ev.usageObj = true
					}
					s.js = s.push(s.kid.node(), jsKey)
				} else {
					s.skip, s.inStr, s.js = 1, false, jsSkip
				}
			case c == '[':
				i++
				s.skip, s.inStr, s.js = 1, false, jsSkip
				if s.strip && s.kid.choices() && s.depth == 1 {
					s.js = jsChoices
				}
			case c == '"':
				i++
				if s.kid.model() && s.modelLen == 0 {
					s.capLen = 0
					s.js = jsStr
				} else {
					s.js = jsSkipStr
				}
			case c == '-' || c >= '0' && c <= '9':
				if s.kid.field() != fNone {
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
				s.js = s.closeObject(i)
			default:
				s.js = jsErr
			}

		case jsSkip:
			n, done := s.skipIn(p[i:])
			i += n
			if done {
				s.js = s.valueDone(i)
			}

		case jsSkipStr:
			n, closed := s.scanStr(p[i:])
			i += n
			if closed {
				s.js = s.valueDone(i)
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
				s.js = s.valueDone(i)
			}

		case jsNum:
			for i < len(p) && s.js == jsNum {
				if s.numByte(p[i]) {
					i++
				} else {
					s.finishNum()
					s.js = s.valueDone(i)
				}
			}

		case jsScalar:
			for i < len(p) {
				c := p[i]
				if c == ',' || c == '}' || c == ']' || isSpace(c) {
					s.js = s.valueDone(i)
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
				s.js = s.valueDone(i)
			default:
				s.js = jsSkip // s.skip is already 1
			}

		default: // jsErr
			return
		}
	}
}

// feedTokens is feedJSON for the states between tokens (jsTop … jsAfter), a whole token at a
// time: a key, string or number that p holds entirely is found with a word-at-a-time search
// and taken at once, a skipped object or array is stepped over by skipIn, and a member flows
// from its key through its colon and value to the comma after it without going back to the
// state switch. It returns the position where it stopped: the end of p, a token that p holds
// only in part (s.js is then the state before it, and feedJSON's byte-by-byte states take it
// from there, across Writes), or a state that is not between tokens. Whatever it reads, it
// reads exactly as the byte-by-byte states would.
func (s *Scanner) feedTokens(p []byte, i int) int {
	st := s.js
	member := false // the value being read is that of a member of a known object
loop:
	for i < len(p) {
		c := p[i]
		if c <= ' ' && space[c] {
			if i = skipSpaces(p, i); i == len(p) {
				break
			}
			c = p[i]
		}
		if st != jsKey || c != '"' {
			if st != jsVal {
				switch st {
				case jsKey, jsAfter: // jsKey: not a quote
					switch c {
					case ',':
						if st == jsAfter && s.strip && s.depth == 1 {
							s.rootComma(s.base + i)
						}
						i++
						st = jsKey
					case '}':
						i++
						st = s.closeObject(i)
					default:
						st = jsErr
						break loop
					}
					continue
				case jsColon:
					if c != ':' {
						st = jsErr
						break loop
					}
					i++
					st, member = jsVal, true
					continue
				case jsArr:
					switch c {
					case ',':
						i++
					case ']':
						i++
						s.depth--
						st = s.valueDone(i)
					case '{':
						i++
						st = s.push(s.root, jsKey)
					default: // some other value: skip it
						s.kid = 0
						st, member = jsVal, false
					}
					continue
				case jsTop:
					switch c {
					case '{':
						i++
						st = s.push(s.root, jsKey)
					case '[':
						i++
						st = s.push(nodeArray, jsArr)
					default:
						st = jsErr
						break loop
					}
					continue
				default:
					break loop
				}
			}
			goto value
		}
	key: // a key (st == jsKey, c == '"' == p[i])
		{
			if s.strip && s.depth == 1 {
				s.ev.keyStart = s.base + i
			}
			// The key's end (see endStr), and the member of that name if any
			// (lookupKey). Inline for a key shorter than keyMax, from the four words
			// that hold it: its length and first bytes pick the one member it can be,
			// which is then compared as words.
			var q int
			kid := role(0)
			node := s.stack[(s.depth-1)%maxDepth]
			if j := i + 1; j+keyMax <= len(p) {
				b := p[j : j+keyMax]
				w0, w1 := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
				w2, w3 := binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:])
				t := quotePos(w0, w1)
				if t == 16 {
					t += quotePos(w2, w3)
				}
				if q = j + t; t < keyMax && p[q-1] != '\\' {
					h := uint(t) + uint(byte(w0)) + uint(byte(w0>>8))
					if t > keyHashAt {
						h += uint(byte(w1 >> (8 * (keyHashAt - 8))))
					}
					k := keyTab[(uint(node)*keySlotN+h%keySlotN)%keyTabN]
					if int(k.n) == t {
						if f := &keyName[k.e%keyEntryN]; (w0&f.m[0]^f.w[0])|(w1&f.m[1]^f.w[1])|
							(w2&f.m[2]^f.w[2])|(w3&f.m[3]^f.w[3]) == 0 {
							kid = k.r
						}
					}
				} else if q = endStr(p, j, j+t); q >= 0 {
					kid = lookupKey(node, p[j:q])
				}
			} else if q = endStr(p, j, j); q >= 0 {
				kid = lookupKey(node, p[j:q])
			}
			if q < 0 {
				break loop
			}
			if s.kid = kid; s.strip && s.depth == 1 && kid.usage() {
				s.rootUsageKey()
			}
			// Most often the colon follows, and the value after it or after one space.
			st, member = jsVal, true
			if q+8 <= len(p) {
				w := binary.LittleEndian.Uint64(p[q : q+8])
				if byte(w>>8) != ':' {
					i, st = q+1, jsColon
					continue
				}
				if i, c = q+2, byte(w>>16); c == ' ' {
					i, c = q+3, byte(w>>24)
				}
				if c <= ' ' {
					continue
				}
			} else {
				if i = q + 1; i == len(p) || p[i] != ':' {
					st = jsColon
					continue
				}
				if i++; i < len(p) && p[i] == ' ' {
					i++
				}
				if i == len(p) || p[i] <= ' ' {
					continue
				}
				c = p[i]
			}
		}
	value: // a value (st == jsVal), starting with c == p[i]
		switch kid := s.kid; {
		case c == '"':
			var q int // the string's end (see endStr), inline within 32 bytes
			if j := i + 1; j+32 <= len(p) {
				b := p[j : j+32]
				t := quotePos(binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]))
				if t == 16 {
					t += quotePos(binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:]))
				}
				if t == 32 || p[j+t-1] == '\\' {
					q = endStr(p, j, j+t)
				} else {
					q = j + t
				}
			} else {
				q = endStr(p, j, j)
			}
			if q < 0 {
				break loop
			}
			if kid.model() && s.modelLen == 0 {
				s.takeModel(p[i+1 : q])
			}
			i = q + 1
		case c == '{' && kid.node() != nodeNone:
			i++
			if s.strip && kid.usage() && s.depth == 1 {
				s.ev.usageObj = true
			}
			st = s.push(kid.node(), jsKey)
			continue
		case c == '{' || c == '[':
			if c == '[' && s.strip && kid.choices() && s.depth == 1 {
				break loop // jsChoices: let the byte-by-byte states look for an empty array
			}
			i++
			s.skip, s.inStr = 1, false
			n, done := s.skipIn(p[i:])
			if i += n; !done {
				st = jsSkip
				break loop
			}
		case c-'0' <= 9 && kid.field() != fNone:
			// A plain integer of up to 15 digits (every count); anything else (a sign, a
			// fraction, an exponent, more digits, the end of p) byte by byte.
			j, v := i, int64(0)
			for end := min(len(p), i+16); j < end; j++ {
				d := p[j] - '0'
				if d > 9 {
					break
				}
				v = v*10 + int64(d)
			}
			if j == len(p) || j-i > 15 || numCont[p[j]] {
				break loop
			}
			s.pend[kid.field()] = v
			s.pendSeen |= 1 << kid.field()
			i = j
		case c == '-' && kid.field() != fNone:
			break loop
		case c == '-' || c-'0' <= 9 || c-'a' <= 'z'-'a': // a skipped number or literal
			j := i + 1
			for j < len(p) && !scalarEnd[p[j]] {
				j++
			}
			if j == len(p) {
				break loop // it may go on in the next input: byte by byte (jsScalar)
			}
			i = j
		default:
			st = jsErr
			break loop
		}
		// The value ended at i; in an object, most often a comma and the next key follow.
		if !member {
			st = s.valueDone(i)
			continue
		}
		if s.strip && s.depth == 1 {
			s.rootValueEnd(s.base + i)
			if i < len(p) && p[i] == ',' {
				s.rootComma(s.base + i)
			}
		}
		if st = jsAfter; i < len(p) && p[i] == ',' {
			i++
			st = jsKey
			if i < len(p) && p[i] <= ' ' {
				i = skipSpaces(p, i)
			}
			if i < len(p) && p[i] == '"' {
				c = '"'
				goto key
			}
		}
	}
	s.js = st
	return i
}

// numCont marks the bytes that continue a number after its digits (numByte takes them).
var numCont = [256]bool{'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true,
	'7': true, '8': true, '9': true, '-': true, '+': true, '.': true, 'e': true, 'E': true}

// scalarEnd marks the bytes that end a skipped number or literal (jsScalar).
var scalarEnd = [256]bool{',': true, '}': true, ']': true, ' ': true, '\n': true, '\r': true, '\t': true}

// push opens a known object (or the top-level array) and returns st, the state inside it.
func (s *Scanner) push(n uint8, st uint8) uint8 {
	if int(s.depth) == len(s.stack) {
		return jsErr // cannot happen with the trees above; kept so that memory stays fixed
	}
	s.stack[s.depth] = n
	s.depth++
	if nodes[n].usage {
		s.pend = [nFields]int64{}
		s.pendSeen = 0
	}
	if s.strip && s.depth == 1 {
		s.ev.lastComma = -1
	}
	return st
}

// closeObject handles the '}' of a known object; i is the position just after it. It returns
// the next state.
func (s *Scanner) closeObject(i int) uint8 {
	if nodes[s.stack[(s.depth-1)%maxDepth]].usage {
		s.commit()
	}
	s.depth--
	return s.valueDone(i)
}

// valueDone is called when a value inside the current container has ended just before p[i].
// It returns the next state.
func (s *Scanner) valueDone(i int) uint8 {
	if s.strip && s.depth == 1 {
		s.rootValueEnd(s.base + i)
	}
	switch {
	case s.depth == 0:
		return jsTop
	case s.stack[(s.depth-1)%maxDepth] == nodeArray:
		return jsArr
	}
	return jsAfter
}

// resolveKey looks the key just read (raw) up among the members of the current object.
func (s *Scanner) resolveKey(key []byte) {
	kid := lookupKey(s.stack[(s.depth-1)%maxDepth], key)
	s.kid = kid
	if s.strip && s.depth == 1 && kid.usage() {
		s.rootUsageKey()
	}
}

// lookupKey returns the role of key in an object of node n (none if it is not a member; a key
// longer than keyMax is nobody's). Members are found in a hash table without collisions
// (keyTab, built once from nodes): most keys are not members, and their length tells so.
func lookupKey(n uint8, key []byte) role {
	if len(key) < 2 || len(key) > keyMax {
		return 0
	}
	if k := keyTab[(uint(n)*keySlotN+keyHash(key))%keyTabN]; int(k.n) == len(key) &&
		string(key) == keyStr[k.e%keyEntryN] {
		return k.r
	}
	return 0
}

// keySlot is a slot of keyTab: a member's name length (0: empty), role and index in keyName.
type keySlot struct {
	n uint8
	e uint8
	r role
}

const (
	keySlotN  = 32 // slots per node: a power of two, above the number of members of any node
	keyTabN   = uint(nNodes) * keySlotN
	keyEntryN = 64 // a power of two, above the number of members of all nodes
)

// keyHashAt is the position of the byte that keyHash adds for keys longer than it: it tells
// ephemeral_5m_input_tokens from ephemeral_1h_input_tokens. (8 ≤ keyHashAt < 16: the inline
// lookup in feedTokens reads it from the key's second word.)
const keyHashAt = 11

// keyHash spreads the members of every node over distinct slots (buildKeyTables checks it).
// key has at least two bytes.
func keyHash(key []byte) uint {
	h := uint(len(key)) + uint(key[0]) + uint(key[1])
	if len(key) > keyHashAt {
		h += uint(key[keyHashAt])
	}
	return h % keySlotN
}

// keyTab[n*keySlotN+keyHash(name)] is the slot of the member name of node n; keyName and
// keyStr hold the names, the former as words.
var keyTab, keyName, keyStr = buildKeyTables()

// keyWords is a name of at most keyMax bytes as words, with the masks of its bytes.
type keyWords struct {
	w [keyMax / 8]uint64 // zero-padded
	m [keyMax / 8]uint64
}

func buildKeyTables() (tab [keyTabN]keySlot, words [keyEntryN]keyWords, names [keyEntryN]string) {
	k := 1
	for n := range nodes {
		for _, m := range nodes[n].members {
			if len(m.name) < 2 || len(m.name) > keyMax || k == keyEntryN {
				panic("usage: member name too short or too long, or too many members: " + m.name)
			}
			h := n*keySlotN + int(keyHash([]byte(m.name)))
			if tab[h].n != 0 {
				panic("usage: keyHash collision: " + m.name)
			}
			tab[h] = keySlot{n: uint8(len(m.name)), e: uint8(k), r: roleOf(m)}
			var b [keyMax]byte
			copy(b[:], m.name)
			for x := range words[k].w {
				words[k].w[x] = binary.LittleEndian.Uint64(b[8*x:])
				words[k].m[x] = byteMask(len(m.name) - 8*x)
			}
			names[k] = m.name
			k++
		}
	}
	return tab, words, names
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
	s.commits++
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
// Strings are stepped over quote to quote (see endStr), and the bytes between them (`":`, `,"`,
// numbers, indentation) eight at a time.
func (s *Scanner) skipIn(p []byte) (n int, done bool) {
	i := 0
	if s.inStr {
		if s.esc {
			if len(p) == 0 {
				return 0, false
			}
			s.esc, i = false, 1
		}
		q := endStr(p, i, i)
		if q < 0 {
			s.esc = oddBackslashes(p, i)
			return len(p), false
		}
		i, s.inStr = q+1, false
	}
	depth := s.skip
	for {
		// The next structural byte: a word at a time, then byte by byte. OR-ing 0x26 maps
		// exactly '[', ']', '{' and '}' (and 'Y', '_', 'y', DEL, passed over) to 0x7f.
		for ; i+8 <= len(p); i += 8 {
			w := binary.LittleEndian.Uint64(p[i : i+8])
			x, y := w^quotes, (w|0x2626262626262626)^0x7f7f7f7f7f7f7f7f
			if m := ((x-lo)&^x | (y-lo)&^y) & hi; m != 0 {
				j := bits.TrailingZeros64(m) >> 3
				if structural[p[i+j]] {
					i += j
					goto found
				}
				i += j + 1 - 8 // 'Y', '_', 'y' or DEL: go on just after it
			}
		}
		for ; i < len(p); i++ {
			if structural[p[i]] {
				goto found
			}
		}
		s.skip = depth
		return len(p), false
	found:
		c := p[i]
		i++
		switch c {
		case '"':
			var q int // the string's end (see endStr), inline within 16 bytes
			if i+16 <= len(p) {
				t := quote16(p[i : i+16])
				if q = i + t; t == 16 || p[q-1] == '\\' {
					q = strRest(p, i, t)
				}
			} else {
				q = endStr(p, i, i)
			}
			if q < 0 {
				s.skip, s.inStr, s.esc = depth, true, oddBackslashes(p, i)
				return len(p), false
			}
			i = q + 1
		case '{', '[':
			depth++
		default: // '}' or ']'
			if depth--; depth == 0 {
				s.skip = 0
				return i, true
			}
		}
	}
}

// Word-at-a-time byte search (SWAR): lo and hi have 0x01 and 0x80 in every byte. For a word
// x, (x-lo) &^ x & hi has the high bit set in every zero byte of x, and possibly in bytes
// after one (a borrow), which is why only the lowest one is used or each one is checked.
// Words are loaded little-endian, so the lowest bits are the first bytes.
const (
	lo          = 0x0101010101010101
	hi          = 0x8080808080808080
	quotes      = 0x2222222222222222
	spaces      = 0x2020202020202020
	backslashes = 0x5c5c5c5c5c5c5c5c
)

// The end of a string is found a few words at a time, without a call, by the reader's hot
// paths; these take over when that fails. A quote is escaped when an odd number of backslashes
// precede it (`\\"` closes the string, `\\\"` does not).

// strRest returns the position of the quote that closes the string whose content starts at
// p[start], with sixteen bytes of it in p whose quote16 is t (t < 16: that quote follows a
// backslash), or -1 when p ends first. One more step of sixteen, then endStr.
func strRest(p []byte, start, t int) int {
	if t < 16 {
		return endStr(p, start, start+t) // a quote after a backslash
	}
	j := start + 16
	if j+16 <= len(p) {
		if t = quote16(p[j : j+16]); t < 16 {
			if q := j + t; p[q-1] != '\\' {
				return q
			}
			return endStr(p, start, j+t)
		}
		j += 16
	}
	return endStr(p, start, j)
}

// quote16 returns the index of the first '"' in b[:16], or 16.
func quote16(b []byte) int {
	b = b[:16]
	return quotePos(binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]))
}

// quotePos returns the index of the first '"' in the sixteen bytes of w0 and w1, or 16. Both
// words are tested without branching on either, since where a short string ends is as good
// as random.
func quotePos(w0, w1 uint64) int {
	x, y := w0^quotes, w1^quotes
	t := bits.TrailingZeros64((x - lo) &^ x & hi) // 64: no quote in x
	u := bits.TrailingZeros64((y - lo) &^ y & hi)
	return (t + u&-(t>>6)) >> 3 // t>>6 is 1 when x has no quote
}

// byteMask returns a mask of the first k bytes of a word (none when k <= 0, all from 8).
func byteMask(k int) uint64 {
	return ^uint64(0) >> (64 - 8*uint(min(max(k, 0), 8)))
}

// endStr returns the position of the quote that closes the string whose content starts at
// p[start] (not inside an escape), searching from p[j] (p[start:j] holds no closing quote), or
// -1 when p ends first. Eight bytes at a time, escapes stepped over as they come (message text
// and tool arguments may be dense with them); a string that goes on plain for a few words is
// left to endStrLong.
func endStr(p []byte, start, j int) int {
	if j > start && p[j-1] == '\\' && oddBackslashes(p[:j], start) {
		j++ // p[j] is escaped
	}
	for plain := 0; j+8 <= len(p); {
		w := binary.LittleEndian.Uint64(p[j : j+8])
		x, y := w^quotes, w^backslashes
		mq, mb := (x-lo)&^x&hi, (y-lo)&^y&hi
		if mq|mb == 0 {
			if plain++; plain == 4 {
				return endStrLong(p, start, j+8)
			}
			j += 8
			continue
		}
		tq, tb := bits.TrailingZeros64(mq), bits.TrailingZeros64(mb) // 64: none
		if tq < tb {
			return j + tq>>3
		}
		j += tb>>3 + 2 // the backslash and the byte it escapes
	}
	for j < len(p) {
		switch p[j] {
		case '"':
			return j
		case '\\':
			j += 2
		default:
			j++
		}
	}
	return -1
}

// endStrLong is endStr for a long string: bytes.IndexByte from quote to quote, each checked
// for the backslashes before it.
func endStrLong(p []byte, start, j int) int {
	for {
		k := bytes.IndexByte(p[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		if q == start || p[q-1] != '\\' {
			return q
		}
		k = q - 1
		for k > start && p[k-1] == '\\' {
			k--
		}
		if (q-k)&1 == 0 {
			return q
		}
		j = q + 1
	}
}

// oddBackslashes reports whether p, inside a string from p[i] (not inside an escape) to its
// end, ends with a backslash that escapes the next byte.
func oddBackslashes(p []byte, i int) bool {
	k := len(p)
	for k > i && p[k-1] == '\\' {
		k--
	}
	return (len(p)-k)&1 == 1
}

// skipSpaces returns the position of the first byte of p[i:] that is not JSON whitespace, or
// len(p). Indentation is stepped over up to eight spaces at a time.
func skipSpaces(p []byte, i int) int {
	for i < len(p) && space[p[i]] {
		i++
		for i+8 <= len(p) {
			if x := binary.LittleEndian.Uint64(p[i:i+8]) ^ spaces; x != 0 {
				i += bits.TrailingZeros64(x) >> 3
				break
			}
			i += 8
		}
	}
	return i
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
	if s.numBad || s.numDigits == 0 || s.kid.field() == fNone {
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
	s.pend[s.kid.field()] = v
	s.pendSeen |= 1 << s.kid.field()
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

// takeModel keeps the model string raw (JSON escapes undecoded) read whole, as setModel does.
func (s *Scanner) takeModel(raw []byte) {
	if len(raw) > modelMax {
		return
	}
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
