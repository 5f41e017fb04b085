package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/units"
	"github.com/aigw/aigw/proxytest"
)

// nullable are the fields -o json may show as null: settings left to their
// default (timeout, max_retries) and times that have not happened.
var nullable = map[string]bool{"timeout": true, "max_retries": true, "expires_at": true, "revoked_at": true, "last_used_at": true}

// jsonNulls walks a decoded JSON document and reports every null that is
// not a nullable field, and every "0s" (a default that reads as a value).
func jsonNulls(path string, v any, bad *[]string) {
	switch v := v.(type) {
	case nil:
		field := path[strings.LastIndex(path, ".")+1:]
		if !nullable[field] {
			*bad = append(*bad, path+" is null")
		}
	case string:
		if v == "0s" {
			*bad = append(*bad, path+` is "0s"`)
		}
	case []any:
		for i, x := range v {
			jsonNulls(fmt.Sprintf("%s[%d]", path, i), x, bad)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			jsonNulls(path+"."+k, v[k], bad)
		}
	}
}

// Every -o json command, on a fresh gateway and with one of everything:
// lists are arrays ([] when empty, never null), and a setting left to its
// default is null, never "0s".
func TestJSONListsAreArraysAndDefaultsNull(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	var bad []string
	check := func(args ...string) any {
		t.Helper()
		out := g.ok(t, append(args, "-o", "json")...)
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("aigw %s -o json: %v\n%s", strings.Join(args, " "), err, out)
		}
		jsonNulls(strings.Join(args, " "), v, &bad)
		return v
	}
	empty := func(args ...string) {
		t.Helper()
		if out := strings.TrimSpace(g.ok(t, append(args, "-o", "json")...)); out != "[]" {
			t.Errorf("aigw %s -o json on a fresh gateway: %s, want []", strings.Join(args, " "), out)
		}
	}
	for _, c := range [][]string{{"provider", "list"}, {"credential", "list"}, {"key", "list"}, {"traces"},
		{"usage"}, {"usage", "--by", "key"}, {"usage", "--by", "credential"}} {
		empty(c...)
	}
	check("token", "list")
	check("version")

	p := check("provider", "add", "openai", "--type", "openai", "--base-url", fake.URL).(map[string]any)
	if h, ok := p["headers"].([]any); !ok || len(h) != 0 || p["timeout"] != nil {
		t.Errorf(`provider add: headers %#v, timeout %#v; want [] and null`, p["headers"], p["timeout"])
	}
	check("provider", "list")
	check("provider", "show", "openai")
	empty("credential", "list", "--provider", "openai")
	cred := check("credential", "add", "--provider", "openai", "--secret", "sk-upstream-1", "--name", "one").(map[string]any)
	id := cred["id"].(string)
	for _, c := range [][]string{{"credential", "list"}, {"credential", "show", id}, {"credential", "update", id, "--weight", "2"},
		{"credential", "disable", id}, {"credential", "enable", id}} {
		check(c...)
	}
	key := check("key", "create", "--provider", "openai", "--credentials", id, "--name", "app").(map[string]any)
	if key["timeout"] != nil || key["max_retries"] != nil {
		t.Errorf("key create without --timeout/--max-retries: timeout %#v, max_retries %#v; want null (the default)", key["timeout"], key["max_retries"])
	}
	if m, ok := key["models"].([]any); !ok || len(m) != 0 {
		t.Errorf("key create without --models: models %#v, want []", key["models"])
	}
	for _, c := range [][]string{{"key", "list"}, {"key", "show", "app"}} {
		check(c...)
	}
	if k := check("key", "update", "app", "--timeout", "30s", "--max-retries", "0").(map[string]any); k["timeout"] != "30s" || k["max_retries"] != float64(0) {
		t.Errorf("key update --timeout 30s --max-retries 0: timeout %#v, max_retries %#v", k["timeout"], k["max_retries"])
	}
	if pp := check("provider", "update", "openai", "--timeout", "45s").(map[string]any); pp["timeout"] != "45s" {
		t.Errorf("provider update --timeout 45s: timeout %#v", pp["timeout"])
	}
	tok := check("token", "create", "--scope", "keys:read").(map[string]any)
	check("token", "list")
	check("token", "revoke", tok["id"].(string))

	r := post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+key["secret"].(string), chatJSON)
	if r.status != 200 {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer aigw_not-a-key", chatJSON)
	waitTraces(t, g, 1)
	for _, c := range [][]string{{"traces"}, {"usage", "--by", "model"}, {"usage", "--by", "credential"}, {"key", "revoke", "app"},
		{"backup", filepath.Join(t.TempDir(), "b.db")}} {
		check(c...)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// emptyLists reaches nil lists at any depth and leaves values that marshal
// themselves (times, durations, bytes) and unset pointers as they are.
func TestEmptyListsAtAnyDepth(t *testing.T) {
	type inner struct {
		Tags []string          `json:"tags"`
		Meta map[string]string `json:"meta"`
	}
	type outer struct {
		Items  []inner        `json:"items"`
		Ptr    *inner         `json:"ptr"`
		Unset  *inner         `json:"unset"`
		Raw    []byte         `json:"raw"`
		When   time.Time      `json:"when"`
		Any    any            `json:"any"`
		Wait   units.Duration `json:"wait"`
		hidden []string
	}
	in := outer{Items: []inner{{}}, Ptr: &inner{}, Any: inner{}, Wait: units.Duration(time.Second)}
	b, err := json.Marshal(jsonValue(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"items":[{"tags":[],"meta":{}}],"ptr":{"tags":[],"meta":{}},"unset":null,"raw":null,"when":"0001-01-01T00:00:00Z","any":{"tags":[],"meta":{}},"wait":"1s"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if in.Ptr.Tags != nil || in.Items[0].Tags != nil {
		t.Error("jsonValue changed the value it was given")
	}
	if b, _ := json.Marshal(jsonValue([]string(nil))); string(b) != "[]" {
		t.Errorf("a nil list alone: %s", b)
	}
}
