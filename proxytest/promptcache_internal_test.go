package proxytest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// stripCacheControl is the obvious way to canonicalise a block: decode it,
// delete every "cache_control" member, and report whether there was one.
// canonicalBlock must agree with it on every JSON value.
func stripCacheControl(v any) bool {
	found := false
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t["cache_control"]; ok {
			delete(t, "cache_control")
			found = true
		}
		for _, e := range t {
			found = stripCacheControl(e) || found
		}
	case []any:
		for _, e := range t {
			found = stripCacheControl(e) || found
		}
	}
	return found
}

// checkCanonical compares canonicalBlock with decoding and stripping.
func checkCanonical(t *testing.T, raw []byte) {
	t.Helper()
	got, marked, ok := canonicalBlock(raw)
	if ok != json.Valid(raw) {
		t.Fatalf("canonicalBlock(%q): ok %v, but json.Valid says %v", raw, ok, !ok)
	}
	if !ok || hasDuplicateKeys(raw) {
		return // decoding keeps only the last of equal keys: no reference
	}
	var want any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&want); err != nil {
		t.Fatal(err)
	}
	wantMarked := stripCacheControl(want)
	var gotV any
	d = json.NewDecoder(bytes.NewReader(got))
	d.UseNumber()
	if err := d.Decode(&gotV); err != nil {
		t.Fatalf("canonicalBlock(%q) = %q: not JSON: %v", raw, got, err)
	}
	if !reflect.DeepEqual(gotV, want) || marked != wantMarked {
		t.Fatalf("canonicalBlock(%q) = %q, marked %v; decoding and stripping gives %v, marked %v", raw, got, marked, want, wantMarked)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, got); err != nil || !bytes.Equal(compact.Bytes(), got) {
		t.Fatalf("canonicalBlock(%q) = %q is not compact", raw, got)
	}
}

// hasDuplicateKeys reports whether an object of the JSON value raw has a
// key twice.
func hasDuplicateKeys(raw []byte) bool {
	d := json.NewDecoder(bytes.NewReader(raw))
	type level struct {
		keys   map[string]bool
		object bool
		atKey  bool // the next string token is a key
	}
	var stack []*level
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				if top != nil && top.object {
					top.atKey = true
				}
				stack = append(stack, &level{keys: map[string]bool{}, object: tok == '{', atKey: tok == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.object && top.atKey {
				if top.keys[tok] {
					return true
				}
				top.keys[tok] = true
				top.atKey = false
				continue
			}
			if top != nil && top.object {
				top.atKey = true
			}
		default:
			if top != nil && top.object {
				top.atKey = true
			}
		}
	}
}

var canonicalCases = []string{
	`{"a":1}`,
	` { "role" : "user", "content" : [ { "type":"text", "text":"hi", "cache_control": {"type":"ephemeral"} } ] } `,
	`{"cache_control":{"type":"ephemeral"}}`,
	`{"cache_control":1,"a":2}`,
	`{"a":2,"cache_control":[1,{"cache_control":3}]}`,
	`{"a":1,"cache_control":"x","b":{"cache_control":null},"c":3}`,
	`{"text":"say \"cache_control\": here","cache_control":true}`,
	`{"text":"ends in a backslash \\","cache_control":{}}`,
	`{"text":"\\\"cache_control\":1"}`,
	`["cache_control",{"cache_control":"cache_control"}]`,
	`"cache_control"`,
	`{"cache_control":{"cache_control":{"cache_control":0}},"cache_control":1}`,
	`{"a":[1,2,3]}x`,
	`{"":0,"c":{"cache_control":null},"c":0}`,
	`{"a":`,
	``,
}

func TestCanonicalBlock(t *testing.T) {
	for _, c := range canonicalCases {
		checkCanonical(t, []byte(c))
	}
	got, _, _ := canonicalBlock([]byte(`{"z":1, "cache_control":{"type":"ephemeral"}, "a":[ 1 ]}`))
	if string(got) != `{"z":1,"a":[1]}` {
		t.Errorf("canonical block %s: keys reordered or spaces kept", got)
	}
}

// FuzzCanonicalBlock: the byte-cutting canonicalisation agrees with decoding
// and stripping on any input.
func FuzzCanonicalBlock(f *testing.F) {
	for _, c := range canonicalCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkCanonical(t, []byte(raw))
	})
}
