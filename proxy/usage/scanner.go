package usage

import "bytes"

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
	api    API
	format Format
	root   uint8 // document node of api; nodeNone: nothing to read

	// SSE framing.
	ln       uint8 // line state
	field    [4]byte
	fieldLen int
	prevCR   bool   // the last line ended with '\r': a '\n' next belongs to it
	noEnd    bool   // the current input holds no further event end (see eventEnd)
	usageKey string // `usage"` or `usageMetadata"`: events without that key hold no usage
	modelKey string // `model"` or `modelVersion"`

	// JSON reader (json.go).
	js        uint8
	depth     uint8
	stack     [maxDepth]uint8
	skip      int  // nesting inside a skipped value
	inStr     bool // inside a string within a skipped value
	esc       bool // a backslash ended the last input while inside a string
	kid       member
	key       [keyMax]byte
	keyLen    int
	cap       [modelMax]byte // raw model string being read
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
	pendSeen uint8
	val      [nFields]int64
	got      bool
	model    [modelMax]byte
	modelLen int
	modelStr string // the last model string made by Usage, reused while it matches (kept by Reset)

	// Filter (filter.go).
	strip       bool
	passing     bool // the current event outgrew MaxEventBytes and is being passed through
	lastDropped bool // the previous event was dropped
	crEnd       bool // the previous event ended with a '\r' that ended the input: a '\n' may follow
	hold        []byte
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
	hold := s.hold[:0]
	if cap(hold) > 64<<10 {
		hold = nil
	}
	*s = Scanner{api: api, format: f, root: rootOf(api), hold: hold, modelStr: s.modelStr,
		usageKey: `usage"`, modelKey: `model"`}
	if s.root == nodeGemini {
		s.usageKey, s.modelKey = `usageMetadata"`, `modelVersion"`
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
	s.noEnd = false
	for q := p; len(q) > 0; {
		n, _ := s.scanSSE(q, 0)
		q = q[n:]
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
				// Between documents, and the rest of the event is here: if it cannot hold
				// anything we read, step over it without parsing (most chunks of a stream).
				if n := eventEnd(p[i:]); n < 0 {
					s.noEnd = true // not in this input: do not search again until the next one
				} else if !s.mayHold(p[i : i+n]) {
					s.endEvent()
					return i + n, true
				}
			}
			switch c {
			case '\n':
				s.endEvent()
				return i + 1, true
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
				return i, true
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
	if s.modelLen == 0 && hasKey(ev, s.modelKey) >= 0 {
		return true
	}
	for {
		j := hasKey(ev, s.usageKey)
		if j < 0 {
			return false
		}
		if s.strip {
			return true
		}
		ev = ev[j:]
		k := skipSpace(ev, 0)
		if k == len(ev) || ev[k] != ':' {
			continue // a string "usage", not a key
		}
		k = skipSpace(ev, k+1)
		if k == len(ev) || ev[k] != 'n' {
			return true
		}
	}
}

// hasKey returns the position just past the first `"`+key in b, or -1. key ends with its
// closing quote.
func hasKey(b []byte, key string) int {
	for off := 0; ; {
		j := bytes.Index(b[off:], []byte(key))
		if j < 0 {
			return -1
		}
		j += off
		if j > 0 && b[j-1] == '"' {
			return j + len(key)
		}
		off = j + 1
	}
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
