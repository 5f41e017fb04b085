package usage

import "bytes"

// OpenAI Responses API ids. A stored response (and every follow-up that
// names it in previous_response_id) exists only on the upstream account
// that created it, so the proxy remembers which credential answered each
// id. These readers find the ids without decoding any JSON.

// MaxResponseID bounds a response id: a longer one is ignored (ids are
// client-visible strings such as "resp_" and 48 hex digits).
const MaxResponseID = 128

// ValidResponseID reports whether id can be a response id worth
// remembering: 1 to MaxResponseID bytes of ASCII letters, digits, '_' and
// '-'. Anything else (escapes, spaces, control bytes) is not an id any
// provider hands out, and is ignored rather than decoded.
func ValidResponseID(id []byte) bool {
	if len(id) == 0 || len(id) > MaxResponseID {
		return false
	}
	for _, c := range id {
		if !idByte[c] {
			return false
		}
	}
	return true
}

var idByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	t['_'], t['-'] = true, true
	return t
}()

// IDScan is what ResponseID made of the bytes it was given.
type IDScan uint8

const (
	IDMore   IDScan = iota // undecided: the bytes end before the id (more may bring it)
	IDFound                // the id was read
	IDAbsent               // decided: these bytes hold no id, and no more bytes would change that
)

// ResponseID reads the id of a Responses API answer from its first bytes
// (the whole answer, or any prefix of it): the top-level "id" of a JSON
// response object, or for an SSE stream the "response":{"id":…} of the
// first event that carries one (response.created comes first). The id
// aliases b. A decision, once made on a prefix, stands for every longer
// one: IDFound and IDAbsent never turn into anything else as bytes are
// added. An id that is not ValidResponseID counts as absent.
func ResponseID(b []byte, f Format) ([]byte, IDScan) {
	if f == FormatSSE {
		return sseResponseID(b)
	}
	return memberID(b, pathID)
}

var (
	pathID         = []string{"id"}
	pathResponseID = []string{"response", "id"}
)

// sseResponseID looks through the stream's data lines for the first one
// whose JSON is an event with a response object holding an id. Events
// without one are passed over, so a stream is never decided IDAbsent: it
// stays IDMore until the id comes (the caller bounds how long it looks).
// Only LF and CRLF line ends are read (a stream of bare CRs never yields
// an id).
func sseResponseID(b []byte) ([]byte, IDScan) {
	for len(b) > 0 {
		line, rest, complete := b, []byte(nil), false
		if nl := bytes.IndexByte(b, '\n'); nl >= 0 {
			line, rest, complete = b[:nl], b[nl+1:], true
		}
		if data, ok := bytes.CutPrefix(line, dataField); ok {
			data = bytes.TrimSuffix(data, cr)
			if len(data) > 0 && data[0] == ' ' {
				data = data[1:]
			}
			if id, st := memberID(data, pathResponseID); st == IDFound {
				return id, st
			}
			// A line cut short may still be followed by the one with the id.
		}
		if !complete {
			return nil, IDMore
		}
		b = rest
	}
	return nil, IDMore
}

var (
	dataField = []byte("data:")
	cr        = []byte("\r")
)

// memberID follows path through the members of the JSON object at the
// start of b (after spaces) to a string value. The first member of each
// name decides. A value is skipped by bracket counting, never decoded.
func memberID(b []byte, path []string) ([]byte, IDScan) {
	i := skipSpace(b, 0)
	if i >= len(b) {
		return nil, IDMore
	}
	if b[i] != '{' {
		return nil, IDAbsent
	}
	i++
	for n := 0; ; n++ {
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, IDMore
		}
		if b[i] == '}' {
			return nil, IDAbsent
		}
		if n > 0 {
			if b[i] != ',' {
				return nil, IDAbsent
			}
			if i = skipSpace(b, i+1); i >= len(b) {
				return nil, IDMore
			}
		}
		if b[i] != '"' {
			return nil, IDAbsent
		}
		ke, ok := stringEnd(b, i)
		if !ok {
			return nil, IDMore
		}
		key := b[i+1 : ke-1]
		if i = skipSpace(b, ke); i >= len(b) {
			return nil, IDMore
		}
		if b[i] != ':' {
			return nil, IDAbsent
		}
		if i = skipSpace(b, i+1); i >= len(b) {
			return nil, IDMore
		}
		if keyIs(key, path[0]) {
			if len(path) > 1 {
				return memberID(b[i:], path[1:])
			}
			return idValue(b[i:])
		}
		e, ok := valueEnd(b, i)
		if !ok {
			return nil, IDMore
		}
		i = e
	}
}

// idValue reads the string at the start of v as an id.
func idValue(v []byte) ([]byte, IDScan) {
	if v[0] != '"' {
		return nil, IDAbsent
	}
	e, ok := stringEnd(v, 0)
	if !ok {
		if len(v) > MaxResponseID+1 {
			return nil, IDAbsent // longer than any id, whatever follows
		}
		return nil, IDMore
	}
	id := v[1 : e-1]
	if !ValidResponseID(id) {
		return nil, IDAbsent
	}
	return id, IDFound
}

// PreviousResponseID returns the raw content of a request body's top-level
// "previous_response_id" string (escapes not decoded, aliasing body); nil
// when absent, not a string, or the body is not a JSON object. If the key
// repeats, the last one wins, as it does for the provider's parser. One
// walk over the top-level members, values skipped by bracket counting
// (about 6 GB/s: a search for the key's bytes first would be slower, as
// prompts are full of its letters).
func PreviousResponseID(body []byte) []byte {
	it := objectIter{b: body}
	if !it.open() {
		return nil
	}
	var id []byte
	for {
		key, vs, ve, ok := it.next()
		if !ok {
			return id
		}
		if keyIs(key, "previous_response_id") {
			id = stringContent(body[vs:ve])
		}
	}
}
