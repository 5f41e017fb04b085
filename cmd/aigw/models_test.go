package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
)

type keyModels struct {
	ID     string   `json:"id"`
	Secret string   `json:"secret"`
	Models []string `json:"models"`
}

// A key's model allow-list as a user sets it: create, show, list, update,
// clear; and the proxy enforcing it.
func TestKeyModelsFromTheCLI(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", "sk-upstream-models-key")

	var k keyModels
	g.okJSON(t, &k, "key", "create", "--provider", "openai", "--credentials", cred.ID, "--models", "gpt-4o, gpt-4o-mini,o4-*")
	if !slices.Equal(k.Models, []string{"gpt-4o", "gpt-4o-mini", "o4-*"}) {
		t.Fatalf("key create -o json: models %q", k.Models)
	}
	var shown keyModels
	g.okJSON(t, &shown, "key", "show", k.ID)
	if !slices.Equal(shown.Models, k.Models) {
		t.Fatalf("key show -o json: models %q", shown.Models)
	}
	if out := g.ok(t, "key", "show", k.ID); !strings.Contains(out, "gpt-4o,gpt-4o-mini,o4-*") {
		t.Errorf("key show does not show the models:\n%s", out)
	}
	if out := g.ok(t, "key", "list"); !strings.Contains(out, "MODELS") || !strings.Contains(out, "gpt-4o,gpt-4o-mini,o4-*") {
		t.Errorf("key list does not show the models:\n%s", out)
	}

	proxied := func(model string) int {
		return post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+k.Secret,
			`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`).status
	}
	if s := proxied("o4-mini"); s != http.StatusOK {
		t.Fatalf("allowed model: %d", s)
	}
	if s := proxied("gpt-4.1"); s != http.StatusForbidden {
		t.Fatalf("model not on the list: %d", s)
	}

	var updated keyModels
	g.okJSON(t, &updated, "key", "update", k.ID, "--models", "gpt-4.1")
	if !slices.Equal(updated.Models, []string{"gpt-4.1"}) {
		t.Fatalf("key update -o json: models %q", updated.Models)
	}
	if s := proxied("gpt-4.1"); s != http.StatusOK {
		t.Fatalf("newly allowed model: %d", s)
	}
	// An update of something else leaves the list; --models "" clears it.
	g.okJSON(t, &updated, "key", "update", k.ID, "--rpm", "100")
	if !slices.Equal(updated.Models, []string{"gpt-4.1"}) {
		t.Fatalf("key update --rpm changed the models: %q", updated.Models)
	}
	g.okJSON(t, &updated, "key", "update", k.ID, "--models", "")
	if updated.Models == nil || len(updated.Models) != 0 {
		t.Fatalf("key update --models '': models %#v, want []", updated.Models)
	}
	if out := g.ok(t, "key", "list", "-o", "json"); !strings.Contains(out, `"models": []`) {
		t.Errorf("cleared list in key list -o json:\n%s", out)
	}
	if out := g.ok(t, "key", "show", k.ID); !strings.Contains(out, "all") {
		t.Errorf("key show of a key for every model:\n%s", out)
	}
	if s := proxied("o3"); s != http.StatusOK {
		t.Fatalf("after clearing the list: %d", s)
	}
}

// A bad pattern is a usage error naming it; nothing is stored.
func TestKeyModelsRefusedByTheCLI(t *testing.T) {
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com")
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", "sk-upstream-models-key")
	var k keyModels
	g.okJSON(t, &k, "key", "create", "--provider", "openai", "--credentials", cred.ID, "--models", "gpt-5")
	before := g.ok(t, "key", "list", "-o", "json")
	for _, c := range []struct{ models, want string }{
		{"gpt-5,gpt-?", `"gpt-?": "?" is not allowed (the only wildcard is *)`},
		{"gpt-[45]", `"[" is not allowed`},
		{"gpt-5,,o3", "item 2 is empty"},
		{"gpt-5,", "item 2 is empty"},
		{"gpt 5", "printable ASCII without spaces"},
		{"gpt-5\x1b[2J", `"gpt-5\x1b[2J"`},
		{strings.Repeat("m", 200), "longer than 128 bytes"},
		{"o3,o3", `"o3" is listed twice`},
	} {
		for _, args := range [][]string{
			{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--models", c.models},
			{"key", "update", k.ID, "--models", c.models},
		} {
			r := g.cli(t, "", nil, args...)
			msg := strings.TrimRight(r.stderr, "\n")
			if r.code != exitUsage || !strings.Contains(msg, "--models") || !strings.Contains(msg, c.want) ||
				strings.Contains(msg, "\n") || strings.Contains(msg, "\x1b") {
				t.Errorf("%s %q: exit %d, %q; want exit %d, one line naming %s", args[1], c.models, r.code, r.stderr, exitUsage, c.want)
			}
			if r.stdout != "" {
				t.Errorf("a refused command printed %q", r.stdout)
			}
		}
	}
	if after := g.ok(t, "key", "list", "-o", "json"); after != before {
		t.Fatalf("refused commands changed the keys:\nbefore %s\nafter  %s", before, after)
	}
}
