package usage

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func keepPrefix(prefixes ...string) func(string) bool {
	return func(id string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(id, p) {
				return true
			}
		}
		return false
	}
}

func TestFilterModelList(t *testing.T) {
	cases := []struct {
		name, in, want string
		keep           func(string) bool
	}{
		{"OpenAI",
			`{"object":"list","data":[{"id":"gpt-5","object":"model"},{"id":"o4-mini","object":"model"},{"id":"gpt-5-mini","object":"model"}]}`,
			`{"object":"list","data":[{"id":"gpt-5","object":"model"},{"id":"gpt-5-mini","object":"model"}]}`, keepPrefix("gpt-5")},
		{"Anthropic keeps its pagination members",
			`{"data":[{"type":"model","id":"claude-opus-4-1"},{"type":"model","id":"claude-haiku-4-5"}],"has_more":true,"first_id":"claude-opus-4-1","last_id":"claude-haiku-4-5"}`,
			`{"data":[{"type":"model","id":"claude-haiku-4-5"}],"has_more":true,"first_id":"claude-opus-4-1","last_id":"claude-haiku-4-5"}`, keepPrefix("claude-haiku")},
		{"Gemini",
			`{"models":[{"name":"models/gemini-2.5-pro","version":"2.5"},{"name":"models/gemini-2.5-flash"}],"nextPageToken":"abc"}`,
			`{"models":[{"name":"models/gemini-2.5-flash"}],"nextPageToken":"abc"}`, keepPrefix("models/gemini-2.5-flash")},
		{"pretty-printed: the kept items keep their layout",
			"{\n  \"data\": [\n    {\"id\": \"a\"},\n    {\"id\": \"b\"},\n    {\"id\": \"c\"}\n  ]\n}\n",
			"{\n  \"data\": [\n    {\"id\": \"a\"},\n    {\"id\": \"c\"}\n  ]\n}\n", keepPrefix("a", "c")},
		{"nothing allowed", `{"data":[{"id":"a"},{"id":"b"}],"object":"list"}`, `{"data":[],"object":"list"}`, keepPrefix("z")},
		{"empty list", `{"data":[ ]}`, `{"data":[ ]}`, keepPrefix("")},
		{"null list", `{"data":null}`, `{"data":null}`, keepPrefix("")},
		{"an escaped id is read decoded", `{"data":[{"id":"gpt\u002d5"},{"id":"gpt-4"}]}`, `{"data":[{"id":"gpt\u002d5"}]}`, keepPrefix("gpt-5")},
		{"an escaped member name is read decoded", `{"d\u0061ta":[{"\u0069d":"x"},{"id":"y"}]}`, `{"d\u0061ta":[{"id":"y"}]}`, keepPrefix("y")},
		{"the last id wins", `{"data":[{"id":"allowed","id":"secret"}]}`, `{"data":[]}`, keepPrefix("allowed")},
		{"every data member is filtered", `{"data":[{"id":"a"},{"id":"b"}],"data":[{"id":"b"}]}`, `{"data":[{"id":"a"}],"data":[]}`, keepPrefix("a")},
		{"items without a string id are dropped", `{"data":["a",{"id":1},{"name":"a"},{"id":"a"},null]}`, `{"data":[{"id":"a"}]}`, keepPrefix("a")},
		{"nested lists are left alone", `{"data":[{"id":"a","data":[{"id":"b"}]}]}`, `{"data":[{"id":"a","data":[{"id":"b"}]}]}`, keepPrefix("a")},
	}
	for _, c := range cases {
		got, err := FilterModelList([]byte("pre:"), []byte(c.in), c.keep)
		if err != nil || string(got) != "pre:"+c.want {
			t.Errorf("%s:\n got %s, %v\nwant pre:%s", c.name, got, err, c.want)
		}
	}
	for _, in := range []string{``, `[]`, `"data"`, `{}`, `{"object":"list"}`, `{"data":{"id":"a"}}`, `{"data":"a"}`,
		`{"data":[{"id":"a"} {"id":"b"}]}`, `{"data":[{"id":"a"},]`, `{"data":[{"id":"a"}]`, `{"data":[{"id":"a"}]} {}`,
		`{"data":[{"id":"a"}],}`, `<html>`} {
		got, err := FilterModelList([]byte("pre:"), []byte(in), keepPrefix(""))
		if !errors.Is(err, ErrNotModelList) || string(got) != "pre:" {
			t.Errorf("FilterModelList(%q) = %q, %v; want ErrNotModelList and dst as it was", in, got, err)
		}
	}
}

// referenceFilter is FilterModelList through encoding/json: the decoded
// object with its "data" and "models" arrays filtered.
func referenceFilter(body []byte, keep func(string) bool) (any, bool) {
	var obj map[string]any
	if json.Unmarshal(body, &obj) != nil || obj == nil {
		return nil, false
	}
	found := false
	for member, idKey := range map[string]string{"data": "id", "models": "name"} {
		v, ok := obj[member]
		if !ok {
			continue
		}
		found = true
		if v == nil {
			continue
		}
		items, ok := v.([]any)
		if !ok {
			return nil, false
		}
		kept := []any{}
		for _, it := range items {
			m, _ := it.(map[string]any)
			if id, ok := m[idKey].(string); ok && keep(id) {
				kept = append(kept, it)
			}
		}
		obj[member] = kept
	}
	return obj, found
}

func checkFilterAgainstReference(t *testing.T, body []byte, keep func(string) bool) {
	t.Helper()
	got, err := FilterModelList(nil, body, keep)
	if !json.Valid(body) {
		return // no reference; not panicking is the test
	}
	if err == nil && !json.Valid(got) {
		t.Fatalf("output is not JSON: %q → %q", body, got)
	}
	if repeatsListMember(body) {
		// encoding/json keeps the last "data" member, the filter filters
		// every one of them: they differ on what they refuse, not on
		// what passes.
		return
	}
	want, ok := referenceFilter(body, keep)
	if ok != (err == nil) {
		t.Fatalf("%q: filter error %v, reference accepts it: %v", body, err, ok)
	}
	if !ok {
		return
	}
	var gotV any
	if e := json.Unmarshal(got, &gotV); e != nil {
		t.Fatalf("output is not JSON: %q → %q: %v", body, got, e)
	}
	if !reflect.DeepEqual(gotV, want) {
		t.Fatalf("%q:\n got %s\nwant %v", body, got, want)
	}
}

// repeatsListMember reports whether the object body names "data" or
// "models" more than once.
func repeatsListMember(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]int{}
	for dec.More() {
		key, err := dec.Token()
		var value json.RawMessage
		if err != nil || dec.Decode(&value) != nil {
			return false
		}
		if k, _ := key.(string); k == "data" || k == "models" {
			seen[k]++
		}
	}
	return seen["data"] > 1 || seen["models"] > 1
}

func TestFilterModelListMatchesReference(t *testing.T) {
	for _, body := range modelListSeeds {
		checkFilterAgainstReference(t, []byte(body), keepPrefix("a", "models/b", "gpt-5"))
		checkFilterAgainstReference(t, []byte(body), keepPrefix(""))
		checkFilterAgainstReference(t, []byte(body), keepPrefix("none"))
	}
}

var modelListSeeds = []string{
	`{"object":"list","data":[{"id":"gpt-5","object":"model","created":1},{"id":"o4-mini"}]}`,
	`{"data":[{"type":"model","id":"a1"},{"type":"model","id":"b1"}],"has_more":false,"first_id":"a1","last_id":"b1"}`,
	`{"models":[{"name":"models/b-flash","supportedGenerationMethods":["generateContent"]},{"name":"models/c"}],"nextPageToken":"t"}`,
	"{ \"data\" : [ { \"id\" : \"a\" } , { \"id\" : \"b\" } ] , \"x\" : [1,2,{\"data\":[]}] }",
	`{"data":[],"models":null}`,
	`{"data":[{"id":"a\"b"},{"id":"\u0061"},{"id":"\ud83d\ude00"}]}`,
}

func FuzzFilterModelList(f *testing.F) {
	for _, s := range modelListSeeds {
		f.Add([]byte(s), "a")
	}
	f.Fuzz(func(t *testing.T, body []byte, prefix string) {
		for _, c := range []byte(prefix) {
			if c >= 0x80 {
				return // encoding/json reads invalid UTF-8 in an id as U+FFFD; the filter does not decode
			}
		}
		checkFilterAgainstReference(t, body, keepPrefix(prefix))
	})
}

func TestRequestModelRaw(t *testing.T) {
	cases := []struct {
		in, raw string
		escaped bool
		count   int
	}{
		{`{"model":"gpt-4o","messages":[]}`, "gpt-4o", false, 1},
		{`{"messages":[{"model":"x"}],"metadata":{"model":"y"}}`, "", false, 0},
		{`{"model":"gpt\u002d4o"}`, `gpt\u002d4o`, true, 1},
		{`{"model":"a","model":"b"}`, "b", false, 2},
		{`{"model":"a","Model":"b"}`, "b", false, 2},
		{`{"MODEL":"b"}`, "b", false, 1},
		{`{"mod\u0065l":"b","x":1}`, "b", false, 1},
		{`{"MOD\u0045L":"b"}`, "b", false, 1},
		{`{"model":5}`, "", false, 1},
		{`{"model":"a","model":null}`, "", false, 2},
		{`{"models":"a","mode":"b"}`, "", false, 0},
		{`not json`, "", false, 0},
	}
	for _, c := range cases {
		raw, escaped, count := RequestModelRaw([]byte(c.in))
		if string(raw) != c.raw || escaped != c.escaped || count != c.count {
			t.Errorf("RequestModelRaw(%s) = %q, %v, %d; want %q, %v, %d", c.in, raw, escaped, count, c.raw, c.escaped, c.count)
		}
	}
}

// RequestModelRaw reads the model RequestModel reads, and counts it.
func FuzzRequestModelRaw(f *testing.F) {
	for _, s := range []string{`{"model":"gpt-4o","messages":[]}`, `{"model":"a","model":"b"}`, `{"model":"gpt\u002d4o"}`,
		`{"model":null}`, `{"model":"gpt-4o","messages":[`, `{"metadata":{"model":"x"}}`, `{"model":""}`, ``, `{"Model":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		raw, escaped, count := RequestModelRaw(body)
		want := RequestModel(body)
		if want != "" && count == 0 {
			t.Fatalf("%q: RequestModel reads %q, RequestModelRaw counts no model", body, want)
		}
		if count != 1 || want == "" {
			return // several: refused by the caller; one not spelled "model": RequestModel does not see it
		}
		got := string(raw)
		if escaped {
			got = string(unescapeJSON(nil, raw))
		}
		if CutString(got, MaxModel) != want {
			t.Fatalf("%q: raw %q (escaped %v), RequestModel %q", body, raw, escaped, want)
		}
	})
}
