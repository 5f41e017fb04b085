package usage

import (
	"bytes"
	"errors"
)

// ErrNotModelList is FilterModelList's answer for a body it cannot filter.
var ErrNotModelList = errors.New("not a JSON model list")

// FilterModelList appends to dst a model list answer with only the models keep accepts. The
// lists are the top-level arrays "data" (OpenAI, Anthropic, OpenAI-compatible: each item's
// "id") and "models" (Gemini: each item's "name", such as "models/gemini-2.5-flash"); keep
// gets the id or the name as the item spells it, escapes decoded. An item whose id cannot be
// read (not an object, no string id) is dropped. Every other byte, pagination members
// ("has_more", "first_id", "nextPageToken") and the layout of the kept items included, stays
// as it was.
//
// body must be one JSON object with at least one of the two arrays (null counts as an empty
// one), else the result is ErrNotModelList: a gateway that cannot filter the list must not
// pass it on whole. Like the rest of this package it walks the bytes without decoding them.
func FilterModelList(dst, body []byte, keep func(id string) bool) ([]byte, error) {
	start := len(dst)
	it := objectIter{b: body}
	if !it.open() {
		return dst, ErrNotModelList
	}
	found := false
	copied := 0 // body[:copied] is in dst
	for {
		key, vs, ve, ok := it.next()
		if !ok {
			break
		}
		var idKey string
		switch {
		case keyIs(key, "data"):
			idKey = "id"
		case keyIs(key, "models"):
			idKey = "name"
		default:
			continue
		}
		found = true
		if string(body[vs:ve]) == "null" {
			continue
		}
		if body[vs] != '[' {
			return dst[:start], ErrNotModelList
		}
		dst = append(dst, body[copied:vs]...)
		var err error
		if dst, err = filterArray(dst, body[:ve], vs, idKey, keep); err != nil {
			return dst[:start], err
		}
		copied = ve
	}
	if it.err || !found || skipSpace(body, it.i) != len(body) {
		return dst[:start], ErrNotModelList
	}
	return append(dst, body[copied:]...), nil
}

// filterArray appends the array that opens at b[i] and ends at the end of b, with only the
// items whose idKey keep accepts. Each kept item keeps the white space before it.
func filterArray(dst, b []byte, i int, idKey string, keep func(string) bool) ([]byte, error) {
	dst = append(dst, '[')
	ws := i + 1 // the white space before the next item starts here
	i = skipSpace(b, ws)
	if i < len(b) && b[i] == ']' {
		return append(dst, b[ws:]...), nil
	}
	kept := 0
	for {
		ve, ok := valueEnd(b, i)
		if !ok {
			return dst, ErrNotModelList
		}
		if id, ok := itemID(b[:ve], i, idKey); ok && keep(id) {
			if kept > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, b[ws:ve]...)
			kept++
		}
		i = skipSpace(b, ve)
		if i >= len(b) {
			return dst, ErrNotModelList
		}
		switch b[i] {
		case ',':
			ws = i + 1
			i = skipSpace(b, ws)
		case ']':
			return append(dst, b[ve:]...), nil
		default:
			return dst, ErrNotModelList
		}
	}
}

// itemID returns the string member name of the object that starts at b[i] and ends at the
// end of b (the last one, if the name repeats).
func itemID(b []byte, i int, name string) (string, bool) {
	if b[i] != '{' {
		return "", false
	}
	it := objectIter{b: b, i: i}
	it.open()
	vs, ve := -1, -1
	for {
		key, s, e, ok := it.next()
		if !ok {
			break
		}
		if keyIs(key, name) {
			vs, ve = s, e
		}
	}
	if it.err || vs < 0 || b[vs] != '"' {
		return "", false
	}
	raw := b[vs+1 : ve-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), true
	}
	return string(unescapeJSON(make([]byte, 0, len(raw)), raw)), true
}

// RequestModelRaw reads the model of a JSON request body for a check that must not be fooled
// and keeps nothing, without a copy. count is how many top-level members name the model, their
// names compared without regard to case: Go's encoding/json, which some upstreams use, reads
// "Model" as "model" and keeps the last of them, other parsers the first or only the exact
// name, so a body with more than one can mean different models to different readers. raw is
// the value of the last of them as it stands in body, not cut to MaxModel (nil when it is not
// a string), and escaped says whether it holds escapes (RequestModel decodes them).
func RequestModelRaw(body []byte) (raw []byte, escaped bool, count int) {
	it := objectIter{b: body}
	if !it.open() {
		return nil, false, 0
	}
	vs, ve := -1, -1
	for {
		key, s, e, ok := it.next()
		if !ok {
			break
		}
		if keyFoldsTo(key, "model") {
			vs, ve = s, e
			count++
		}
	}
	if vs < 0 || body[vs] != '"' {
		return nil, false, count
	}
	raw = body[vs+1 : ve-1]
	return raw, bytes.IndexByte(raw, '\\') >= 0, count
}

// keyFoldsTo reports whether the raw (still escaped) key spells name, an
// ASCII lowercase word, in any case. (No letter of "model" has a Unicode
// case folding outside ASCII.)
func keyFoldsTo(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') >= 0 {
		if len(raw) > 6*len(name) {
			return false
		}
		var buf [96]byte
		raw = unescapeJSON(buf[:0], raw)
	}
	return bytes.EqualFold(raw, []byte(name))
}
