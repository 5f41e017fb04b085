package usage

import "bytes"

// Request-side helpers. The request body is buffered whole by the proxy (so that it can be
// replayed on retry); these walk it once without decoding it: only the top-level members are
// looked at, every value is skipped by bracket counting.

// RequestModel returns the top-level "model" string of a JSON request body ("" if absent or
// not a string). If the key repeats, the last one wins, as it does for the provider's parser.
// A body cut short still yields a model read before the cut. A model longer than MaxModel
// bytes is cut (see CutString).
func RequestModel(body []byte) string {
	it := objectIter{b: body}
	if !it.open() {
		return ""
	}
	vs, ve := -1, -1
	for {
		key, s, e, ok := it.next()
		if !ok {
			break
		}
		if keyIs(key, "model") {
			vs, ve = s, e
		}
	}
	if vs < 0 || body[vs] != '"' {
		return ""
	}
	raw := body[vs+1 : ve-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return cutBytes(raw, MaxModel)
	}
	// An escape takes at most 6 bytes per byte it decodes to, so this prefix
	// decodes to more than MaxModel bytes; a cut escape at its end is cut off
	// with them.
	if lim := 8 * (MaxModel + 1); len(raw) > lim {
		raw = raw[:lim]
	}
	return cutBytes(unescapeJSON(make([]byte, 0, len(raw)), raw), MaxModel)
}

// ModelFromPath returns the model of a Gemini path such as
// /v1beta/models/gemini-2.5-flash:generateContent ("gemini-2.5-flash"), including Vertex AI's
// …/publishers/google/models/{model}:{method}. It returns "" when the path names no model,
// and cuts a model longer than MaxModel bytes (see CutString).
func ModelFromPath(path []byte) string {
	const seg = "models/"
	i := bytes.LastIndex(path, []byte(seg))
	if i < 0 || i > 0 && path[i-1] != '/' {
		return ""
	}
	m := path[i+len(seg):]
	if j := bytes.IndexAny(m, ":/?"); j >= 0 {
		m = m[:j]
	}
	return cutBytes(m, MaxModel)
}

const includeUsage = `"include_usage":true`

// PrepareOpenAIStream makes an OpenAI chat (or legacy completions) streaming request ask for
// usage. When body is a JSON object with "stream": true and without
// "stream_options":{"include_usage":true}, it appends to dst the body with the option added
// (or set to true), every other byte unchanged, and returns it with injected=true. Otherwise
// it returns body itself and false: streaming is off, usage is already requested, or the body
// is not JSON the gateway should touch (the upstream will answer it as it would have).
func PrepareOpenAIStream(dst, body []byte) (out []byte, injected bool) {
	if !mayStream(body) {
		return body, false
	}
	it := objectIter{b: body}
	if !it.open() {
		return body, false
	}
	stream := false
	soStart, soEnd := -1, -1
	for {
		key, s, e, ok := it.next()
		if !ok {
			break
		}
		switch {
		case keyIs(key, "stream"):
			stream = string(body[s:e]) == "true"
		case keyIs(key, "stream_options"):
			soStart, soEnd = s, e
		}
	}
	if it.err || !stream {
		return body, false
	}
	closing := it.i - 1 // the top-level '}'

	switch {
	case soStart < 0: // no stream_options: add it as the last member
		out = append(dst, body[:closing]...)
		out = append(out, `,"stream_options":{`+includeUsage+`}`...)
		return append(out, body[closing:]...), true

	case string(body[soStart:soEnd]) == "null":
		out = append(dst, body[:soStart]...)
		out = append(out, `{`+includeUsage+`}`...)
		return append(out, body[soEnd:]...), true

	case body[soStart] == '{':
		inner := objectIter{b: body[:soEnd], i: soStart}
		inner.open()
		empty := true
		vs, ve := -1, -1
		for {
			key, s, e, ok := inner.next()
			if !ok {
				break
			}
			empty = false
			if keyIs(key, "include_usage") {
				vs, ve = s, e
			}
		}
		if inner.err {
			return body, false
		}
		if vs >= 0 {
			if string(body[vs:ve]) == "true" {
				return body, false // already asked for
			}
			out = append(dst, body[:vs]...)
			out = append(out, "true"...)
			return append(out, body[ve:]...), true
		}
		out = append(dst, body[:soStart+1]...)
		out = append(out, includeUsage...)
		if !empty {
			out = append(out, ',')
		}
		return append(out, body[soStart+1:]...), true
	}
	return body, false // stream_options of the wrong type: leave the upstream to reject it
}

// mayStream is a quick, exact pre-check for PrepareOpenAIStream: "stream":
// true needs the literal true somewhere, and the key either as it is or
// with \u escapes. Most plain requests have neither and skip the walk.
func mayStream(body []byte) bool {
	return (containsStream(body) || bytes.Contains(body, litEscape)) && bytes.Contains(body, litTrue)
}

var (
	litTrue   = []byte("true")
	litEscape = []byte(`\u`)
)

// containsStream reports whether b holds the word "stream". It hops from
// one 'm' to the next: m is the rarest letter of the word in prompts and
// JSON alike, while bytes.Contains hops on every 's' and, after a few
// misses, compares at every position (about 300 ns for a small chat
// request that has no "stream" at all).
func containsStream(b []byte) bool {
	const word = "stream"
	for i := len(word) - 1; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], 'm')
		if j < 0 {
			return false
		}
		i += j
		if string(b[i+1-len(word):i+1]) == word {
			return true
		}
	}
	return false
}

// keyIs reports whether the raw (still escaped) key spells name.
func keyIs(raw []byte, name string) bool {
	// An escape makes the raw key longer than what it spells, so a raw key
	// no longer than name is name only if it is name byte for byte.
	if len(raw) <= len(name) || bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	if len(raw) > 6*len(name) {
		return false
	}
	var buf [96]byte
	return string(unescapeJSON(buf[:0], raw)) == name
}

// objectIter walks the members of one JSON object in a buffer.
type objectIter struct {
	b   []byte
	i   int
	err bool // malformed JSON; next returned false
	n   int  // members seen
}

// open expects '{' at the current position (after whitespace).
func (it *objectIter) open() bool {
	it.i = skipSpace(it.b, it.i)
	if it.i >= len(it.b) || it.b[it.i] != '{' {
		it.err = true
		return false
	}
	it.i++
	return true
}

// next returns the next member's raw key (escapes not decoded) and its value's span
// [vs, ve). At the end of the object it returns ok=false with it.i just past the '}'.
func (it *objectIter) next() (key []byte, vs, ve int, ok bool) {
	b := it.b
	i := skipSpace(b, it.i)
	if it.n > 0 {
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		} else if i < len(b) && b[i] == '}' {
			it.i = i + 1
			return nil, 0, 0, false
		} else {
			it.err = true
			return nil, 0, 0, false
		}
	} else if i < len(b) && b[i] == '}' {
		it.i = i + 1
		return nil, 0, 0, false
	}
	if i >= len(b) || b[i] != '"' {
		it.err = true
		return nil, 0, 0, false
	}
	ke, ok := stringEnd(b, i)
	if !ok {
		it.err = true
		return nil, 0, 0, false
	}
	key = b[i+1 : ke-1]
	i = skipSpace(b, ke)
	if i >= len(b) || b[i] != ':' {
		it.err = true
		return nil, 0, 0, false
	}
	vs = skipSpace(b, i+1)
	ve, ok = valueEnd(b, vs)
	if !ok {
		it.err = true
		return nil, 0, 0, false
	}
	it.i = ve
	it.n++
	return key, vs, ve, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the position just past the string that opens at b[i] ('"').
// Only quotes are searched for (IndexByte, vectorised): a quote ends the
// string unless an odd run of backslashes precedes it. Escapes elsewhere
// cost nothing, and each backslash is looked at once at most, so the scan
// stays linear.
func stringEnd(b []byte, i int) (int, bool) {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return 0, false
		}
		q := i + j
		k := q
		for k > i && b[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			return q + 1, true
		}
		i = q + 1
	}
}

// valueEnd returns the position just past the JSON value that starts at b[i].
func valueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		return stringEnd(b, i)
	case c == '{' || c == '[':
		depth := 0
		for i < len(b) {
			for i < len(b) && !structural[b[i]] {
				i++
			}
			if i == len(b) {
				break
			}
			switch b[i] {
			case '"':
				e, ok := stringEnd(b, i)
				if !ok {
					return 0, false
				}
				i = e
				continue
			case '{', '[':
				depth++
			default:
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	default: // number or literal
		j := i
		for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
			j++
		}
		if j == i {
			return 0, false
		}
		return j, true
	}
}
