package store

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestKeyModelsCreateUpdateClear(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	k, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}, Models: []string{"gpt-5", "gpt-5-mini", "claude-*"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Key(k.ID); !slices.Equal(got.Models, []string{"gpt-5", "gpt-5-mini", "claude-*"}) {
		t.Fatalf("stored models %q", got.Models)
	}
	k, err = s.UpdateKey(k.ID, KeyPatch{Models: &[]string{"o4-*"}})
	if err != nil || !slices.Equal(k.Models, []string{"o4-*"}) {
		t.Fatalf("update: %q, %v", k.Models, err)
	}
	// A patch without models leaves them.
	if k, err = s.UpdateKey(k.ID, KeyPatch{RPM: ptr(int64(5))}); err != nil || !slices.Equal(k.Models, []string{"o4-*"}) {
		t.Fatalf("unrelated update: %q, %v", k.Models, err)
	}
	// An empty list clears it: every model, shown as [] rather than null.
	k, err = s.UpdateKey(k.ID, KeyPatch{Models: &[]string{}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Key(k.ID)
	b, _ := json.Marshal(got)
	if len(got.Models) != 0 || !strings.Contains(string(b), `"models":[]`) {
		t.Fatalf("cleared key: %s", b)
	}
	// A key created without models says so the same way.
	k2, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}})
	if b, _ := json.Marshal(k2); err != nil || !strings.Contains(string(b), `"models":[]`) {
		t.Fatalf("new key without models: %s, %v", b, err)
	}
}

// A record written before keys had models reads as a key for every model.
func TestKeyRecordWithoutModels(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	k, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}, Models: []string{"gpt-5"}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		var rec map[string]any
		if err := json.Unmarshal(b.Get([]byte(k.ID)), &rec); err != nil {
			return err
		}
		delete(rec, "models")
		old, _ := json.Marshal(rec)
		return b.Put([]byte(k.ID), old)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Key(k.ID)
	if err != nil || got.Models == nil || len(got.Models) != 0 {
		t.Fatalf("old record: models %#v, %v", got.Models, err)
	}
	d, err := s.Load()
	if err != nil || len(d.Keys) != 1 || len(d.Keys[0].Models) != 0 {
		t.Fatalf("Load: %+v, %v", d, err)
	}
}

func TestKeyModelsRefused(t *testing.T) {
	long := strings.Repeat("m", MaxModelPattern+1)
	many := make([]string, MaxModelPatterns+1)
	for i := range many {
		many[i] = "m" + strings.Repeat("x", i)
	}
	cases := []struct {
		name   string
		models []string
		want   string
	}{
		{"question mark", []string{"gpt-5", "gpt-?"}, `"gpt-?": "?" is not allowed (the only wildcard is *)`},
		{"character class", []string{"gpt-[45]"}, `"gpt-[45]": "[" is not allowed`},
		{"brace", []string{"{a,b}"}, `"{a,b}": "{" is not allowed`},
		{"backslash", []string{`gpt\-5`}, `"gpt\\-5": "\\" is not allowed`},
		{"empty item", []string{"gpt-5", ""}, "item 2 is empty"},
		{"space", []string{"gpt 5"}, `"gpt 5": a model name is printable ASCII without spaces`},
		{"control character", []string{"gpt\x1b[31m"}, `"gpt\x1b[31m": a model name is printable ASCII`},
		{"non-ASCII", []string{"gpt-５"}, `a model name is printable ASCII`},
		{"too long", []string{long}, "is longer than 128 bytes"},
		{"too many", many, "at most 64 models or patterns, not 65"},
		{"twice", []string{"gpt-5", "gpt-5"}, `"gpt-5" is listed twice`},
	}
	s := openTest(t)
	f := newFixture(t, s)
	k, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}, Models: []string{"gpt-5"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}, Models: c.models})
			wantField(t, err, "models")
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("create: %v; want one line with %q", err, c.want)
			}
			_, err = s.UpdateKey(k.ID, KeyPatch{Models: &c.models})
			wantField(t, err, "models")
		})
	}
	keys, _ := s.allKeys()
	if len(keys) != 1 || !slices.Equal(keys[0].Models, []string{"gpt-5"}) {
		t.Fatalf("refused input changed the keys: %+v", keys)
	}
}

func TestParseModels(t *testing.T) {
	for in, want := range map[string][]string{
		"":                               {},
		"  ":                             {},
		"gpt-5":                          {"gpt-5"},
		"gpt-5, gpt-5-mini ,claude-*":    {"gpt-5", "gpt-5-mini", "claude-*"},
		"meta-llama/*,ft:gpt-4o:org::id": {"meta-llama/*", "ft:gpt-4o:org::id"},
	} {
		got, err := ParseModels(in)
		if err != nil || got == nil || !slices.Equal(got, want) {
			t.Errorf("ParseModels(%q) = %#v, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"a,,b", "a,", ",a", "gpt-?"} {
		if got, err := ParseModels(in); err == nil {
			t.Errorf("ParseModels(%q) = %q; want an error", in, got)
		}
	}
}
